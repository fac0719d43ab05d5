"""The singular value decomposition, drawn: rotate, scale, rotate; and what truncating it costs.

``draw_svd_circle`` follows the unit circle through the three factors of a 2x2 matrix
``A = U Σ Vᵀ``: ``Vᵀ`` turns the circle (it stays a circle), ``Σ`` stretches it along the axes into
an ellipse with half-axes σ₁ and σ₂, and ``U`` turns the ellipse into place, where it is exactly
the image of the circle under ``A``. ``draw_eckart_young`` plots the squared error of the rank-k
truncated SVD against k beside that of keeping k random directions: the SVD's error is the sum of
the discarded σ², and no rank-k matrix does better (the Eckart-Young theorem).

Both return a :class:`matplotlib.figure.Figure` built without pyplot state, so a notebook shows it
as the value of a cell and tests can inspect it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

DEFAULT_2X2 = np.array([[1.6, 0.9], [0.3, 1.1]])


def svd_stages(A: np.ndarray, n_points: int = 200) -> dict[str, np.ndarray]:
    """The unit circle (shape ``(2, n_points)``) after each factor of the SVD of the 2x2 matrix ``A``.

    Keys, in order: ``"circle"``, ``"after Vt"`` (``Vᵀ x``), ``"after S"`` (``Σ Vᵀ x``) and
    ``"after U"`` (``U Σ Vᵀ x``, equal to ``A x``). The SVD is taken with NumPy in float64.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.shape != (2, 2):
        raise ValueError(f"svd_stages draws 2x2 matrices, got shape {A.shape}")
    theta = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(theta), np.sin(theta)])
    U, S, Vt = np.linalg.svd(A)
    after_vt = Vt @ circle
    after_s = S[:, None] * after_vt
    return {"circle": circle, "after Vt": after_vt, "after S": after_s, "after U": U @ after_s}


def truncation_errors(A: np.ndarray) -> np.ndarray:
    """Squared Frobenius errors ``‖A − A_k‖²`` of the rank-k truncated SVD for k = 0 … min(m, n).

    Computed by rebuilding each ``A_k`` from its factors (not from the singular values), so the
    result can be checked against the Eckart-Young value, the sum of the discarded σ².
    """
    A = np.asarray(A, dtype=np.float64)
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    errors = []
    for k in range(len(S) + 1):
        A_k = (U[:, :k] * S[:k]) @ Vt[:k]
        errors.append(float(((A - A_k) ** 2).sum()))
    return np.array(errors)


def random_subspace_errors(A: np.ndarray, seed: int = 0) -> np.ndarray:
    """``‖A − A P_k‖²`` for k = 0 … min(m, n), where ``P_k`` projects onto k random directions.

    A rank-k approximation that is not the truncated SVD: a point of comparison for the figure.
    """
    A = np.asarray(A, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = A.shape[1]
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    errors = []
    for k in range(min(A.shape) + 1):
        basis = Q[:, :k]
        errors.append(float(((A - A @ basis @ basis.T) ** 2).sum()))
    return np.array(errors)


def _arrow(ax, vector: np.ndarray, colour: str, label: str) -> None:
    ax.annotate("", xy=(vector[0], vector[1]), xytext=(0.0, 0.0),
                arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.8})
    ax.text(1.08 * vector[0], 1.08 * vector[1], label, color=colour, fontsize=10, ha="center", va="center")


def draw_svd_circle(A: np.ndarray | None = None) -> Figure:
    """Draw the unit circle and two marked vectors through ``Vᵀ``, ``Σ`` and ``U``; return the figure.

    The marked vectors are the right singular vectors v₁, v₂ (on the circle): ``Vᵀ`` sends them to
    the axes, ``Σ`` stretches them to σ₁ e₁ and σ₂ e₂, and ``U`` turns those into σ₁ u₁ and σ₂ u₂,
    the half-axes of the ellipse ``{A x : ‖x‖ = 1}``.
    """
    A = DEFAULT_2X2 if A is None else np.asarray(A, dtype=np.float64)
    stages = svd_stages(A)
    U, S, Vt = np.linalg.svd(A)
    vectors = [Vt.T, np.eye(2), np.diag(S), U * S]  # columns: where v1 and v2 are at each stage
    names = [("$v_1$", "$v_2$"), ("$e_1$", "$e_2$"), ("$\\sigma_1 e_1$", "$\\sigma_2 e_2$"),
             ("$\\sigma_1 u_1$", "$\\sigma_2 u_2$")]
    titles = ["unit circle $\\|x\\| = 1$", "after $V^\\top$: rotate", "after $\\Sigma$: scale the axes",
              "after $U$: rotate = $Ax$"]
    limit = 1.25 * max(1.0, float(S[0]))
    fig = Figure(figsize=(13, 3.8))
    axes = fig.subplots(1, 4)
    for ax, (key, points), vecs, (n1, n2), title in zip(axes, stages.items(), vectors, names, titles):
        ax.plot(points[0], points[1], color="tab:blue", linewidth=1.5)
        ax.fill(points[0], points[1], color="tab:blue", alpha=0.08)
        _arrow(ax, vecs[:, 0], "tab:red", n1)
        _arrow(ax, vecs[:, 1], "tab:green", n2)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    fig.suptitle(f"$A = U\\Sigma V^\\top$: rotate, scale (by $\\sigma_1 = {S[0]:.2f}$, "
                 f"$\\sigma_2 = {S[1]:.2f}$), rotate")
    fig.tight_layout()
    return fig


def draw_eckart_young(A: np.ndarray | None = None, seed: int = 0) -> Figure:
    """Singular values of ``A`` and the squared error of rank-k approximations against k.

    Left: the singular values σ₁ ≥ σ₂ ≥ …; right, for k below the rank: the truncated SVD's error (dots), the sum of the
    discarded σ² (line, the Eckart-Young value) and the error of projecting onto k random
    directions (crosses), which is never lower. Without ``A``, a random 30x20 matrix whose
    singular values decay geometrically (drawn from ``seed``).
    """
    if A is None:
        rng = np.random.default_rng(seed)
        left, _ = np.linalg.qr(rng.standard_normal((30, 20)))
        right, _ = np.linalg.qr(rng.standard_normal((20, 20)))
        A = (left * 10.0 * 0.75 ** np.arange(20)) @ right.T
    A = np.asarray(A, dtype=np.float64)
    S = np.linalg.svd(A, compute_uv=False)
    ranks = np.arange(len(S))  # k = 0 ... r - 1: at full rank the error is 0, off a log scale
    tail = np.array([float((S[k:] ** 2).sum()) for k in ranks])
    fig = Figure(figsize=(11, 3.8))
    ax_s, ax_e = fig.subplots(1, 2)
    ax_s.bar(np.arange(1, len(S) + 1), S, color="tab:blue")
    ax_s.set_xlabel("index $i$")
    ax_s.set_ylabel("singular value $\\sigma_i$")
    ax_s.set_title("Singular values, largest first")
    ax_e.plot(ranks, tail, color="black", linewidth=1, label="$\\sum_{i > k} \\sigma_i^2$ (Eckart-Young)")
    ax_e.plot(ranks, truncation_errors(A)[:-1], "o", color="tab:blue", label="truncated SVD $A_k$")
    ax_e.plot(ranks, random_subspace_errors(A, seed)[:-1], "x", color="tab:orange", label="k random directions")
    ax_e.set_yscale("log")
    ax_e.set_xlabel("rank $k$")
    ax_e.set_ylabel("squared error $\\|A - A_k\\|_F^2$")
    ax_e.set_title("No rank-k matrix beats the truncated SVD")
    ax_e.legend(fontsize=8)
    fig.tight_layout()
    return fig
