"""Lab 01 (tensors and linear models): the notebook's graded cells, exercised outside Jupyter.

The autograder test cells are read from the source notebook and executed in a fresh namespace
holding only the answer under test, exactly as nbgrader runs them after a student's code. Correct
answers written differently from the reference must pass; wrong ones must fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
import torch
from lab_notebook import LabCells

LAB = "lab01_tensors"
NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / LAB / f"{LAB}.ipynb"

A_Q2 = torch.tensor([[0.3374, 0.6005, 0.1735], [3.3359, 0.0492, 1.8374], [2.9407, 0.5301, 2.2620]])


def _notebook() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)


cell_source = LabCells(LAB).source


def run_cell(grade_id: str, **names: Any) -> dict[str, Any]:
    """Execute a cell in a fresh namespace holding ``names``; return the namespace."""
    namespace: dict[str, Any] = dict(names)
    exec(compile(cell_source(grade_id), f"<{grade_id}>", "exec"), namespace)  # noqa: S102 - runs our own notebook cells
    return namespace


def solution(grade_id: str, name: str, **names: Any) -> Any:
    """Run a solution cell of the notebook and return the object it defines as ``name``."""
    return run_cell(grade_id, torch=torch, **names)[name]


# --------------------------------------------------------------------------- notebook structure


def test_notebook_layout_and_points() -> None:
    nb = _notebook()
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    assert any(
        c.cell_type == "markdown" and c.source.startswith("## Problem sheet") for c in nb.cells
    )
    auto = manual = 0
    grade_ids = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        grade_ids.append(meta["grade_id"])
        assert cell.id == meta["grade_id"]
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs must be cleared"
        if meta.get("grade") and not meta.get("solution"):
            auto += meta["points"]
            assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source
        elif meta.get("grade"):
            manual += meta["points"]
        if meta.get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    assert len(grade_ids) == len(set(grade_ids))
    assert (auto, manual) == (15, 5)


# --------------------------------------------------------------------------- Q1: sgd_factorise


def sgd_columns_first(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Correct, written differently: columns in the outer loop, V updated with the old U[r]."""
    m, n = A.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        for c in range(n):
            for r in range(m):
                e = A[r, c] - torch.dot(U[r], V[c])
                u_old = U[r].clone()
                U[r] += lr * e * V[c]
                V[c] += lr * e * u_old
    return U, V


def sgd_numpy(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Correct, written differently: NumPy in float64, V updated before U."""
    m, n = A.shape
    a = A.numpy().astype(np.float64)
    U = torch.rand(m, rank).double().numpy()
    V = torch.rand(n, rank).double().numpy()
    for _ in range(num_epochs):
        for r, c in itertools.product(range(m), range(n)):
            e = a[r, c] - U[r] @ V[c]
            V[c] += lr * e * U[r]
            U[r] += lr * e * V[c]
    return torch.from_numpy(U).float(), torch.from_numpy(V).float()


def sgd_only_u(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: V is never updated."""
    m, n = A.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        for r in range(m):
            for c in range(n):
                U[r] = U[r] + lr * (A[r, c] - U[r] @ V[c]) * V[c]
    return U, V


def sgd_sign_flipped(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: steps up the gradient."""
    U, V = torch.rand(A.shape[0], rank), torch.rand(A.shape[1], rank)
    for _ in range(num_epochs):
        for r in range(A.shape[0]):
            for c in range(A.shape[1]):
                e = A[r, c] - U[r] @ V[c]
                U[r] = U[r] - lr * e * V[c]
                V[c] = V[c] - lr * e * U[r]
    return U, V


def sgd_transposed(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: returns V transposed."""
    U, V = sgd_columns_first(A, rank, num_epochs, lr)
    return U, V.T


def sgd_first_column_only(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: only visits the entries of the first column."""
    m, n = A.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        for r in range(m):
            e = A[r, 0] - U[r] @ V[0]
            U[r], V[0] = U[r] + lr * e * V[0], V[0] + lr * e * U[r]
    return U, V


@pytest.mark.parametrize(
    "impl", ["reference", sgd_columns_first, sgd_numpy], ids=lambda f: getattr(f, "__name__", f)
)
def test_q1_accepts_correct_implementations(impl: Callable | str) -> None:
    if impl == "reference":
        impl = solution("q1-sgd-factorise", "sgd_factorise")
    run_cell("q1-sgd-factorise-tests", sgd_factorise=impl)


@pytest.mark.parametrize(
    "impl",
    [sgd_only_u, sgd_sign_flipped, sgd_transposed, sgd_first_column_only],
    ids=lambda f: f.__name__,
)
def test_q1_rejects_wrong_implementations(impl: Callable) -> None:
    with pytest.raises(AssertionError):
        run_cell("q1-sgd-factorise-tests", sgd_factorise=impl)


# --------------------------------------------------------------------------- Q2 and Q3: values


def test_q2_accepts_the_solution_and_rejects_wrong_values() -> None:
    sgd_factorise = solution("q1-sgd-factorise", "sgd_factorise")
    from course_utils import seed_everything

    answer = run_cell(
        "q2-sgd-rank2", A=A_Q2.clone(), seed_everything=seed_everything, sgd_factorise=sgd_factorise
    )
    run_cell("q2-sgd-rank2-tests", sgd_loss=answer["sgd_loss"])
    best = float(torch.linalg.svdvals(A_Q2.double())[2] ** 2)
    run_cell("q2-sgd-rank2-tests", sgd_loss=best)
    for wrong in (best / 9, 2 * best, float(torch.linalg.svdvals(A_Q2)[1:].square().sum())):
        with pytest.raises(AssertionError):
            run_cell("q2-sgd-rank2-tests", sgd_loss=wrong)
    with pytest.raises(AssertionError):  # a tensor, not a float
        run_cell("q2-sgd-rank2-tests", sgd_loss=torch.tensor(best))


def test_q3_accepts_the_solution_and_rejects_wrong_values() -> None:
    answer = run_cell("q3-truncated-svd", A=A_Q2.clone(), torch=torch)
    run_cell(
        "q3-truncated-svd-tests",
        svd_reconstruction=answer["svd_reconstruction"],
        svd_loss=answer["svd_loss"],
    )
    # Another correct route: the rank-2 truncation from lstsq-free outer products, in float64.
    U, S, Vh = torch.linalg.svd(A_Q2.double())
    outer = sum(S[k] * torch.outer(U[:, k], Vh[k]) for k in range(2))
    run_cell("q3-truncated-svd-tests", svd_reconstruction=outer, svd_loss=float(S[2] ** 2))
    # Wrong: the loss as sigma_3 instead of its square; zeroing the largest singular value.
    with pytest.raises(AssertionError):
        run_cell("q3-truncated-svd-tests", svd_reconstruction=outer, svd_loss=float(S[2]))
    wrong = U[:, 1:] @ torch.diag(S[1:]) @ Vh[1:]
    with pytest.raises(AssertionError):
        run_cell("q3-truncated-svd-tests", svd_reconstruction=wrong, svd_loss=float(S[0] ** 2))


# --------------------------------------------------------------------------- Q4: masked SGD


def masked_observed_list(A, M, rank, num_epochs=1000, lr=0.01):
    """Correct, written differently: a list of observed entries, column-major, simultaneous update."""
    m, n = A.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    observed = [(r, c) for c in range(n) for r in range(m) if M[r, c] == 1]
    for _ in range(num_epochs):
        for r, c in observed:
            e = A[r, c] - U[r].dot(V[c])
            U[r], V[c] = U[r] + lr * e * V[c], V[c] + lr * e * U[r]
    return U, V


def masked_multiply(A, M, rank, num_epochs=1000, lr=0.01):
    """Correct, written differently: visits every entry but multiplies the error by the mask."""
    m, n = A.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        for r in range(m):
            for c in range(n):
                e = M[r, c] * (A[r, c] - U[r] @ V[c])
                U[r] += lr * e * V[c]
                V[c] += lr * e * U[r]
    return U, V


def masked_ignores_mask(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: fits every entry, observed or not."""
    return sgd_columns_first(A, rank, num_epochs, lr)


def masked_zero_filled(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: treats missing entries as observed zeros."""
    return sgd_columns_first(A * M, rank, num_epochs, lr)


@pytest.mark.parametrize(
    "impl",
    ["reference", masked_observed_list, masked_multiply],
    ids=lambda f: getattr(f, "__name__", f),
)
def test_q4_accepts_correct_implementations(impl: Callable | str) -> None:
    if impl == "reference":
        impl = solution("q4-sgd-factorise-masked", "sgd_factorise_masked")
    completion = torch.zeros(3, 3)
    run_cell(
        "q4-sgd-factorise-masked-tests", sgd_factorise_masked=impl, masked_completion=completion
    )


@pytest.mark.parametrize(
    "impl", [masked_ignores_mask, masked_zero_filled], ids=lambda f: f.__name__
)
def test_q4_rejects_wrong_implementations(impl: Callable) -> None:
    with pytest.raises(AssertionError):
        run_cell(
            "q4-sgd-factorise-masked-tests",
            sgd_factorise_masked=impl,
            masked_completion=torch.zeros(3, 3),
        )


def test_q4_completion_fits_the_observed_entries() -> None:
    from course_utils import seed_everything

    impl = solution("q4-sgd-factorise-masked", "sgd_factorise_masked")
    mask = torch.ones(3, 3)
    mask[1, 0] = mask[2, 1] = 0
    answer = run_cell(
        "q4-completion",
        A=A_Q2.clone(),
        M_small=mask,
        seed_everything=seed_everything,
        sgd_factorise_masked=impl,
    )
    completion = answer["masked_completion"]
    assert completion.shape == (3, 3)
    assert float((mask * (completion - A_Q2) ** 2).sum()) < 0.05


# --------------------------------------------------------------------------- Q5: masked full-batch GD


def gd_sequential_half(R, M, rank, num_epochs, lr):
    """Correct, written differently: the 2 folded into lr, U updated before V's gradient."""
    m, n = R.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        U += lr * (M * (R - U @ V.T)) @ V
        V += lr * (M * (R - U @ V.T)).T @ U
    return U, V


def gd_einsum(R, M, rank, num_epochs, lr):
    """Correct, written differently: einsum, the error defined as prediction minus target."""
    U, V = torch.rand(R.shape[0], rank), torch.rand(R.shape[1], rank)
    for _ in range(num_epochs):
        D = M * (torch.einsum("ik,jk->ij", U, V) - R)
        gU, gV = 2 * torch.einsum("ij,jk->ik", D, V), 2 * torch.einsum("ij,ik->jk", D, U)
        U, V = U - lr * gU, V - lr * gV
    return U, V


def gd_no_mask(R, M, rank, num_epochs, lr):
    """Wrong: the unobserved zeros are fitted too."""
    return gd_einsum(R, torch.ones_like(M), rank, num_epochs, lr)


def gd_sign_flipped(R, M, rank, num_epochs, lr):
    """Wrong: steps up the gradient."""
    return gd_einsum(R, M, rank, num_epochs, -lr)


@pytest.mark.parametrize(
    "impl", ["reference", gd_sequential_half, gd_einsum], ids=lambda f: getattr(f, "__name__", f)
)
def test_q5_accepts_correct_implementations(impl: Callable | str) -> None:
    if impl == "reference":
        impl = solution("q5-masked-gd-factorise", "masked_gd_factorise")
    run_cell("q5-masked-gd-factorise-tests", masked_gd_factorise=impl)


@pytest.mark.parametrize("impl", [gd_no_mask, gd_sign_flipped], ids=lambda f: f.__name__)
def test_q5_rejects_wrong_implementations(impl: Callable) -> None:
    with pytest.raises(AssertionError):
        run_cell("q5-masked-gd-factorise-tests", masked_gd_factorise=impl)


def test_q5_movielens_outputs() -> None:
    from course_utils.data import DataUnavailable, load_movielens_100k

    try:
        ratings = load_movielens_100k(verbose=False)
    except DataUnavailable:
        pytest.skip(
            "MovieLens-100K is not available offline (pip install --no-deps recbole==1.2.1)"
        )
    R, M = ratings.matrix()
    impl = solution("q5-masked-gd-factorise", "masked_gd_factorise")
    torch.manual_seed(0)
    U, V = impl(R, M, 5, 40, 3e-4)  # a short run is enough to beat predicting zeros
    film = ratings.film_id("Star Wars (1977)") - 1
    good = {
        "U_ml": U,
        "V_ml": V,
        "predicted_rating": float(U[195] @ V[film]),
        "movielens_sse": float(((M * (R - U @ V.T)) ** 2).sum()),
    }
    run_cell("q5-movielens-tests", **good)
    wrong_cases = [
        {"predicted_rating": float(U[196] @ V[film + 1])},  # 1-based ids used as 0-based indices
        {"movielens_sse": good["movielens_sse"] / float(M.sum())},  # a mean, not a sum
        {"movielens_sse": float(((R - U @ V.T) ** 2).sum())},  # unobserved entries counted
        {"U_ml": U[:, :3], "V_ml": V[:, :3]},  # wrong rank
    ]
    for change in wrong_cases:
        with pytest.raises(AssertionError):
            run_cell("q5-movielens-tests", **{**good, **change})


# --------------------------------------------------------------------------- release stubs score zero


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError()


@pytest.mark.parametrize(
    "grade_id, names",
    [
        ("q1-sgd-factorise-tests", {"sgd_factorise": _stub}),
        ("q2-sgd-rank2-tests", {}),
        ("q3-truncated-svd-tests", {}),
        ("q4-sgd-factorise-masked-tests", {"sgd_factorise_masked": _stub}),
        ("q5-masked-gd-factorise-tests", {"masked_gd_factorise": _stub}),
        ("q5-movielens-tests", {}),
    ],
)
def test_release_stubs_fail_every_autograded_cell(grade_id: str, names: dict[str, Any]) -> None:
    with pytest.raises((NotImplementedError, NameError)):
        run_cell(grade_id, **names)


# --------------------------------------------------------------------------- teaching exercises


def test_teaching_solutions_against_independent_computations() -> None:
    gen = torch.Generator().manual_seed(0)
    X, Y = (
        torch.randn(6, 4, generator=gen, dtype=torch.float64),
        torch.randn(5, 4, generator=gen, dtype=torch.float64),
    )
    dists = solution("ex1-pairwise-sq-dists", "pairwise_sq_dists")
    torch.testing.assert_close(dists(X, Y), torch.cdist(X, Y) ** 2)

    standardise = solution("ex2-standardise", "standardise")
    Z = standardise(X * 5 + 3)
    torch.testing.assert_close(Z.mean(0), torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(Z.std(0), torch.ones(4, dtype=torch.float64))

    fit = solution("ex3-fit-least-squares", "fit_least_squares")
    y = torch.randn(6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(fit(X, y), torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1))

    # Gradients against autograd (which the notebook does not use until Lab 02).
    def autograd(loss: Callable, w: torch.Tensor) -> torch.Tensor:
        w = w.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(w), w)
        return grad

    w = torch.randn(4, generator=gen, dtype=torch.float64)
    mse_gradient = solution("ex4-mse-gradient", "mse_gradient")
    torch.testing.assert_close(
        mse_gradient(X, y, w), autograd(lambda v: ((X @ v - y) ** 2).mean(), w)
    )

    labels01 = (torch.rand(6, generator=gen) < 0.5).double()
    logistic_gradient = solution("ex5-logistic-gradient", "logistic_gradient")
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    torch.testing.assert_close(
        logistic_gradient(X, labels01, w), autograd(lambda v: bce(X @ v, labels01), w)
    )

    softmax = solution("ex6-softmax", "softmax")
    S = torch.randn(6, 3, generator=gen, dtype=torch.float64) * 50
    torch.testing.assert_close(softmax(S), torch.softmax(S, dim=1))
    torch.testing.assert_close(softmax(S + 1e4), torch.softmax(S, dim=1))

    softmax_gradient = solution("ex7-softmax-gradient", "softmax_gradient", softmax=softmax)
    classes = torch.randint(0, 3, (6,), generator=gen)
    onehot = torch.nn.functional.one_hot(classes, 3).double()
    W = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    ce = torch.nn.functional.cross_entropy
    torch.testing.assert_close(
        softmax_gradient(X, onehot, W), autograd(lambda V: ce(X @ V, classes), W)
    )
