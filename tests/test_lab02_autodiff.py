"""Lab 02 (automatic differentiation): the hidden tests judge behaviour, not code shape.

Each autograded test cell of the source notebook is run here, hidden tests included, against
the notebook's own reference answers, against correct answers written differently (other
class layouts, other loop structures, other PyTorch APIs) and against wrong answers, which
must fail.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "lab02_autodiff" / "lab02_autodiff.ipynb"


def _base_namespace() -> dict[str, Any]:
    return {"math": math, "np": np, "torch": torch, "F": F}


LAB = LabCells("lab02_autodiff", _base_namespace)
CELLS = LAB.cells
reference = LAB.reference
pytestmark = pytest.mark.usefixtures("torch_one_thread")
AUTOGRADED = (
    "dual-class-tests",
    "value-class-tests",
    "q1-gd-factorise-ad-tests",
    "q2a-iris-losses-tests",
    "q3a-mlp-forward-tests",
    "q3b-train-mlp-tests",
    "q4a-layer-jacobian-tests",
    "q4b-layer-vjp-tests",
)


def reference_namespace(grade_id: str) -> dict[str, Any]:
    """What the reference solution defines for this test cell."""
    if grade_id == "q2a-iris-losses-tests":
        losses = _iris_losses()
        return {"iris_loss_gd": losses["gd"], "iris_loss_svd": losses["svd"]}
    answers = {
        "dual-class-tests": ("dual-class",),
        "value-class-tests": ("value-class",),
        "q1-gd-factorise-ad-tests": ("q1-gd-factorise-ad",),
        "q3a-mlp-forward-tests": ("q3a-mlp-forward",),
        "q3b-train-mlp-tests": ("q3a-mlp-forward", "q3b-train-mlp"),
        "q4a-layer-jacobian-tests": ("q4a-layer-jacobian",),
        "q4b-layer-vjp-tests": ("q4b-layer-vjp",),
    }[grade_id]
    return reference(*answers)


@functools.lru_cache(maxsize=None)
def reference_record(grade_id: str, seed: int) -> Any:
    """The reference's probe record at ``seed`` (what the grader compares students with)."""
    record = LAB.probe(grade_id, reference_namespace(grade_id), seed)
    assert record.ok, f"the reference's probe failed: {record.error}"
    return record


def verdict(grade_id: str, namespace: dict[str, Any], seed: int = 0) -> Any:
    return LAB.verdict(grade_id, namespace, reference_record(grade_id, seed), seed)


def passes(grade_id: str, namespace: dict[str, Any], seed: int = 0) -> None:
    """Assert the judge accepts ``namespace`` (with its message when it does not)."""
    result = verdict(grade_id, namespace, seed)
    assert result.passed, result.message


def fails(grade_id: str, namespace: dict[str, Any], seed: int = 0) -> bool:
    return not verdict(grade_id, namespace, seed).passed


# --------------------------------------------------------------------------------------------
# The notebook itself


def test_graded_cells_and_points() -> None:
    points = {
        gid: c.metadata["nbgrader"].get("points", 0)
        for gid, c in CELLS.items()
        if c.metadata["nbgrader"].get("grade")
    }
    assert sum(points.values()) == 20
    autograded = [
        gid
        for gid, c in CELLS.items()
        if c.metadata["nbgrader"].get("grade") and not c.metadata["nbgrader"].get("solution")
    ]
    assert set(autograded) == set(AUTOGRADED)
    assert points == {
        "dual-class-tests": 2,
        "value-class-tests": 2,
        "q1-gd-factorise-ad-tests": 3,
        "q2a-iris-losses-tests": 1,
        "q2b-iris-plots": 1,
        "q2c-pca-comparison": 2,
        "q3a-mlp-forward-tests": 1,
        "q3b-train-mlp-tests": 2,
        "q3c-mlp-runs": 1,
        "q3d-mlp-spread": 2,
        "q4a-layer-jacobian-tests": 1,
        "q4b-layer-vjp-tests": 2,
    }
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit with outputs cleared"
    )
    assert [c.id for c in nb.cells if "nbgrader" in c.metadata] == list(CELLS), (
        "cell ids are the grade ids"
    )


def _stubbed(answer_id: str) -> dict[str, Any]:
    """The namespace a student release gives: solution blocks replaced by the stub."""
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    config = Config()
    config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(CELLS[answer_id].source, metadata=CELLS[answer_id].metadata)
        ]
    )
    nb, _ = ClearSolutions(config=config).preprocess(nb, {})
    namespace = _base_namespace()
    try:
        exec(nb.cells[0].source, namespace)  # noqa: S102
    except NotImplementedError:
        pass
    return namespace


@pytest.mark.parametrize(
    ("test_id", "answer_id"),
    [
        ("dual-class-tests", "dual-class"),
        ("value-class-tests", "value-class"),
        ("q1-gd-factorise-ad-tests", "q1-gd-factorise-ad"),
        ("q2a-iris-losses-tests", "q2a-iris-losses"),
        ("q3a-mlp-forward-tests", "q3a-mlp-forward"),
        ("q3b-train-mlp-tests", "q3b-train-mlp"),
        ("q4a-layer-jacobian-tests", "q4a-layer-jacobian"),
        ("q4b-layer-vjp-tests", "q4b-layer-vjp"),
    ],
)
def test_release_stubs_score_zero(test_id: str, answer_id: str) -> None:
    namespace = _stubbed(answer_id)
    if answer_id == "q3b-train-mlp":
        namespace.update(
            {k: v for k, v in reference("q3a-mlp-forward").items() if k == "mlp_forward"}
        )
    assert fails(test_id, namespace)


# --------------------------------------------------------------------------------------------
# Dual numbers


class DualPair:
    """Another layout: the two parts in one tuple, functions through one chain-rule helper,
    division through the reciprocal."""

    __slots__ = ("parts",)

    def __init__(self, real: float, dual: float = 0.0) -> None:
        self.parts = (float(real), float(dual))

    real = property(lambda self: self.parts[0])
    dual = property(lambda self: self.parts[1])

    @classmethod
    def of(cls, x: Any) -> DualPair:
        return x if isinstance(x, cls) else cls(x)

    def _chain(self, value: float, slope: float) -> DualPair:
        return DualPair(value, slope * self.parts[1])

    def __add__(self, o: Any) -> DualPair:
        o = DualPair.of(o)
        return DualPair(self.parts[0] + o.parts[0], self.parts[1] + o.parts[1])

    __radd__ = __add__

    def __sub__(self, o: Any) -> DualPair:
        o = DualPair.of(o)
        return DualPair(self.parts[0] - o.parts[0], self.parts[1] - o.parts[1])

    def __rsub__(self, o: Any) -> DualPair:
        return DualPair.of(o) - self

    def __mul__(self, o: Any) -> DualPair:
        (a, b), (c, d) = self.parts, DualPair.of(o).parts
        return DualPair(a * c, a * d + b * c)

    __rmul__ = __mul__

    def reciprocal(self) -> DualPair:
        return self._chain(1.0 / self.parts[0], -1.0 / self.parts[0] ** 2)

    def __truediv__(self, o: Any) -> DualPair:
        return self * DualPair.of(o).reciprocal()

    def __rtruediv__(self, o: Any) -> DualPair:
        return DualPair.of(o) * self.reciprocal()

    def __neg__(self) -> DualPair:
        return self * -1

    def __pow__(self, n: float) -> DualPair:
        return self._chain(self.parts[0] ** n, n * self.parts[0] ** (n - 1))

    def sin(self) -> DualPair:
        return self._chain(math.sin(self.parts[0]), math.cos(self.parts[0]))

    def cos(self) -> DualPair:
        return self._chain(math.cos(self.parts[0]), -math.sin(self.parts[0]))

    def tan(self) -> DualPair:
        return self._chain(math.tan(self.parts[0]), 1.0 / math.cos(self.parts[0]) ** 2)

    def exp(self) -> DualPair:
        return self._chain(math.exp(self.parts[0]), math.exp(self.parts[0]))

    def log(self) -> DualPair:
        return self._chain(math.log(self.parts[0]), 1.0 / self.parts[0])


_NUMPY_RULES = {
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda a: -np.sin(a)),
    "tan": (np.tan, lambda a: 1 + np.tan(a) ** 2),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda a: 1 / a),
}


@dataclass(frozen=True)
class DualData:
    """Another layout: a frozen dataclass, NumPy scalars, functions generated from a table."""

    real: float
    dual: float = 0.0

    def _lift(self, o: Any) -> DualData:
        return o if isinstance(o, DualData) else DualData(o)

    def __add__(self, o: Any) -> DualData:
        o = self._lift(o)
        return DualData(self.real + o.real, self.dual + o.dual)

    def __radd__(self, o: Any) -> DualData:
        return self + o

    def __neg__(self) -> DualData:
        return DualData(-self.real, -self.dual)

    def __sub__(self, o: Any) -> DualData:
        return self + -self._lift(o)

    def __rsub__(self, o: Any) -> DualData:
        return -self + o

    def __mul__(self, o: Any) -> DualData:
        o = self._lift(o)
        return DualData(self.real * o.real, self.dual * o.real + self.real * o.dual)

    def __rmul__(self, o: Any) -> DualData:
        return self * o

    def __truediv__(self, o: Any) -> DualData:
        o = self._lift(o)
        return DualData(self.real / o.real, (self.dual - self.real * o.dual / o.real) / o.real)

    def __rtruediv__(self, o: Any) -> DualData:
        return self._lift(o) / self

    def __pow__(self, n: float) -> DualData:
        return DualData(
            np.float64(self.real) ** n, n * np.float64(self.real) ** (n - 1) * self.dual
        )


def _numpy_method(f: Any, df: Any) -> Any:
    return lambda self: DualData(f(self.real), df(self.real) * self.dual)


for _name, (_f, _df) in _NUMPY_RULES.items():
    setattr(DualData, _name, _numpy_method(_f, _df))


def _dual_with(**overrides: Any) -> type:
    """A fresh copy of the reference Dual class with some methods replaced by wrong ones."""
    cls = reference("dual-class")["Dual"]
    for name, method in overrides.items():
        setattr(cls, name, method)
    return cls


@pytest.mark.parametrize(
    "dual_class", [None, DualPair, DualData], ids=["reference", "tuple-layout", "dataclass-numpy"]
)
def test_dual_correct_variants_pass(dual_class: type | None) -> None:
    namespace = reference("dual-class") if dual_class is None else {"Dual": dual_class}
    for seed in (0, 1):
        passes("dual-class-tests", namespace, seed)


@pytest.mark.parametrize(
    "wrong",
    [
        {
            "__mul__": lambda self, o: type(self)(
                self.real * type(self).lift(o).real, self.real * type(self).lift(o).dual
            )
        },
        {"tan": lambda self: type(self)(math.tan(self.real), self.dual / math.cos(self.real))},
        {"__rsub__": lambda self, o: self - o},
        {"__pow__": lambda self, n: type(self)(self.real**n, self.real ** (n - 1) * self.dual)},
        {"log": lambda self: type(self)(math.log(self.real), self.dual * self.real)},
        {
            "__truediv__": lambda self, o: type(self)(
                self.real / type(self).lift(o).real,
                (self.real * type(self).lift(o).dual - self.dual * type(self).lift(o).real)
                / type(self).lift(o).real ** 2,
            )
        },
    ],
    ids=[
        "product-rule-half",
        "tan-derivative",
        "rsub-sign",
        "power-rule-without-n",
        "log-derivative",
        "quotient-rule-sign",
    ],
)
def test_dual_wrong_variants_fail(wrong: dict[str, Any]) -> None:
    assert fails("dual-class-tests", {"Dual": _dual_with(**wrong)})
    assert fails("dual-class-tests", {"Dual": _dual_with(**wrong)}, seed=7)


# --------------------------------------------------------------------------------------------
# Reverse mode


class ValueClosures:
    """Another layout: each node stores a closure that pushes its gradient to its inputs, and
    backward orders the graph with an explicit stack instead of recursion."""

    def __init__(self, data: float, inputs: tuple = (), push: Any = None) -> None:
        self.data, self.grad = float(data), 0.0
        self._inputs, self._push = inputs, push or (lambda: None)

    @staticmethod
    def _v(x: Any) -> ValueClosures:
        return x if isinstance(x, ValueClosures) else ValueClosures(x)

    def _unary(self, value: float, slope: float) -> ValueClosures:
        out = ValueClosures(value, (self,))

        def push() -> None:
            self.grad += slope * out.grad

        out._push = push
        return out

    def __add__(self, o: Any) -> ValueClosures:
        o = self._v(o)
        out = ValueClosures(self.data + o.data, (self, o))

        def push() -> None:
            self.grad += out.grad
            o.grad += out.grad

        out._push = push
        return out

    def __mul__(self, o: Any) -> ValueClosures:
        o = self._v(o)
        out = ValueClosures(self.data * o.data, (self, o))

        def push() -> None:
            self.grad += o.data * out.grad
            o.grad += self.data * out.grad

        out._push = push
        return out

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self) -> ValueClosures:
        return self * -1.0

    def __sub__(self, o: Any) -> ValueClosures:
        return self + -self._v(o)

    def __rsub__(self, o: Any) -> ValueClosures:
        return -self + o

    def __pow__(self, n: float) -> ValueClosures:
        return self._unary(self.data**n, n * self.data ** (n - 1))

    def __truediv__(self, o: Any) -> ValueClosures:
        return self * self._v(o) ** -1

    def __rtruediv__(self, o: Any) -> ValueClosures:
        return self**-1 * o

    def sin(self) -> ValueClosures:
        return self._unary(math.sin(self.data), math.cos(self.data))

    def cos(self) -> ValueClosures:
        return self._unary(math.cos(self.data), -math.sin(self.data))

    def tan(self) -> ValueClosures:
        return self._unary(math.tan(self.data), 1 / math.cos(self.data) ** 2)

    def exp(self) -> ValueClosures:
        return self._unary(math.exp(self.data), math.exp(self.data))

    def log(self) -> ValueClosures:
        return self._unary(math.log(self.data), 1 / self.data)

    def backward(self) -> None:
        order, done, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in done:
                done.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent in node._inputs if id(parent) not in done)
        self.grad = 1.0
        for node in reversed(order):
            node._push()


def _value_kahn() -> type:
    """The reference node layout with another backward: Kahn's algorithm on child counts."""
    base = reference("value-class")["Value"]

    def backward(self: Any) -> None:
        children: dict[int, int] = {}
        stack, seen = [self], {id(self)}
        while stack:
            node = stack.pop()
            for parent, _ in node.parents:
                children[id(parent)] = children.get(id(parent), 0) + 1
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
        self.grad = 1.0
        ready = deque([self])
        while ready:
            node = ready.popleft()
            for parent, local in node.parents:
                parent.grad += local * node.grad
                children[id(parent)] -= 1
                if children[id(parent)] == 0:
                    ready.append(parent)

    base.backward = backward  # a fresh copy of the reference class: patch it in place
    return base


def _value_with_backward(kind: str) -> type:
    base = reference("value-class")["Value"]

    def backward(self: Any) -> None:
        order: list[Any] = []
        seen: set[int] = set()

        def visit(node: Any) -> None:
            if kind != "no-dedupe":
                if id(node) in seen:
                    return
                seen.add(id(node))
            for parent, _ in node.parents:
                visit(parent)
            order.append(node)

        visit(self)
        self.grad = 1.0
        for node in order if kind == "forward-order" else reversed(order):
            for parent, local in node.parents:
                if kind == "overwrite":
                    parent.grad = local * node.grad
                else:
                    parent.grad += local * node.grad

    base.backward = backward  # a fresh copy of the reference class: patch it in place
    return base


@pytest.mark.parametrize("variant", ["reference", "closures-stack", "kahn"])
def test_value_correct_variants_pass(variant: str) -> None:
    if variant == "reference":
        value_class = reference("value-class")["Value"]
    else:
        value_class = ValueClosures if variant == "closures-stack" else _value_kahn()
    for seed in (0, 1):
        passes("value-class-tests", {"Value": value_class}, seed)


@pytest.mark.parametrize("kind", ["no-dedupe", "forward-order", "overwrite"])
def test_value_wrong_backward_fails(kind: str) -> None:
    assert fails("value-class-tests", {"Value": _value_with_backward(kind)})


# --------------------------------------------------------------------------------------------
# Question 1: factorisation by gradient descent


def gd_factorise_optim(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Correct, written with torch.optim.SGD and a parameter list."""
    U = torch.rand(A.shape[0], rank).requires_grad_()
    V = torch.rand(A.shape[1], rank).requires_grad_()
    optimiser = torch.optim.SGD([U, V], lr=lr)
    for _ in range(num_epochs):
        optimiser.zero_grad()
        torch.sum(torch.square(U @ V.t() - A)).backward()
        optimiser.step()
    return U.detach(), V.detach()


def gd_factorise_grad(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Correct, written with torch.autograd.grad, V kept transposed, new tensors each step."""
    U = torch.rand(A.shape[0], rank, requires_grad=True)
    Vt = torch.rand(rank, A.shape[1], requires_grad=True)
    for _ in range(num_epochs):
        gU, gVt = torch.autograd.grad(((A - U @ Vt) ** 2).sum(), (U, Vt))
        U = (U - lr * gU).detach().requires_grad_()
        Vt = (Vt - lr * gVt).detach().requires_grad_()
    return U.detach(), Vt.detach().T.contiguous()


def gd_factorise_mean_loss(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: the mean squared error instead of the sum, so steps are m*n times smaller."""
    U = torch.rand(A.shape[0], rank, requires_grad=True)
    V = torch.rand(A.shape[1], rank, requires_grad=True)
    optimiser = torch.optim.SGD([U, V], lr=lr)
    for _ in range(num_epochs):
        optimiser.zero_grad()
        ((A - U @ V.T) ** 2).mean().backward()
        optimiser.step()
    return U.detach(), V.detach()


def gd_factorise_randn(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: starts from a normal instead of uniform [0, 1)."""
    U = (0.5 * torch.randn(A.shape[0], rank)).requires_grad_()
    V = (0.5 * torch.randn(A.shape[1], rank)).requires_grad_()
    optimiser = torch.optim.SGD([U, V], lr=lr)
    for _ in range(num_epochs):
        optimiser.zero_grad()
        ((A - U @ V.T) ** 2).sum().backward()
        optimiser.step()
    return U.detach(), V.detach()


def gd_factorise_fixed_lr(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: ignores the lr argument."""
    return gd_factorise_optim(A, rank, num_epochs, 0.01)


def gd_factorise_fixed_epochs(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: ignores the num_epochs argument."""
    return gd_factorise_optim(A, rank, 1000, lr)


def gd_factorise_attached(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: returns U and V still attached to the graph (requires_grad=True)."""
    U, V = gd_factorise_optim(A, rank, num_epochs, lr)
    return U.requires_grad_(), V.requires_grad_()


@pytest.mark.parametrize(
    "fn",
    [None, gd_factorise_optim, gd_factorise_grad],
    ids=["reference", "optim-sgd", "autograd-grad"],
)
def test_factorise_correct_variants_pass(fn: Any) -> None:
    namespace = reference("q1-gd-factorise-ad") if fn is None else {"gd_factorise_ad": fn}
    passes("q1-gd-factorise-ad-tests", namespace)


@pytest.mark.slow
def test_factorise_reference_and_alternative_pass_20_seeds() -> None:
    gid = "q1-gd-factorise-ad-tests"
    ref_ns = reference("q1-gd-factorise-ad")
    for seed in range(20):
        assert LAB.passes(gid, ref_ns, ref_ns, seed), f"the reference fails its own judge at seed {seed}"
        assert LAB.passes(gid, {"gd_factorise_ad": gd_factorise_optim}, reference_record(gid, seed), seed), seed


@pytest.mark.parametrize(
    "fn",
    [
        gd_factorise_mean_loss,
        gd_factorise_randn,
        gd_factorise_fixed_lr,
        gd_factorise_fixed_epochs,
        gd_factorise_attached,
    ],
)
def test_factorise_wrong_variants_fail(fn: Any) -> None:
    assert fails("q1-gd-factorise-ad-tests", {"gd_factorise_ad": fn})


def test_factorise_reaches_the_optimum_from_many_starts() -> None:
    """The hidden test's tolerance is not a matter of luck: 15 other seeds pass it too, on the
    hidden test's matrices (60 seeds each were checked when the lab was written)."""
    fn = reference("q1-gd-factorise-ad")["gd_factorise_ad"]
    gen = torch.Generator().manual_seed(7)
    for m, n, r, s in [(6, 5, 2, [4.0, 3.0, 1.0, 0.5, 0.3]), (8, 4, 1, [3.0, 1.5, 1.0, 0.5])]:
        q1, _ = torch.linalg.qr(torch.randn(m, m, generator=gen))
        q2, _ = torch.linalg.qr(torch.randn(n, n, generator=gen))
        A = (q1[:, : len(s)] * torch.tensor(s)) @ q2[:, : len(s)].T
        best = float((torch.linalg.svdvals(A.double())[r:] ** 2).sum())
        for seed in range(10, 25):
            torch.manual_seed(seed)
            U, V = fn(A, r)
            assert float(((A - U @ V.T) ** 2).sum()) <= 1.01 * best + 1e-3


# --------------------------------------------------------------------------------------------
# Question 2: the Iris losses


def _iris_losses() -> dict[str, float]:
    """The right answers, and floats a wrong answer would give."""
    from sklearn.datasets import load_iris

    X = torch.tensor(load_iris().data, dtype=torch.float32)
    s_raw = torch.linalg.svdvals(X)
    X = X - X.mean(0)
    torch.manual_seed(0)
    U, V = gd_factorise_optim(X, 2)
    s = torch.linalg.svdvals(X)
    return {
        "gd": float(((X - U @ V.T) ** 2).sum()),
        "svd": float((s[2:] ** 2).sum()),
        "svd_uncentred": float((s_raw[2:] ** 2).sum()),
        "rank1": float((s[1:] ** 2).sum()),
    }


def test_iris_losses() -> None:
    losses = _iris_losses()
    passes(
        "q2a-iris-losses-tests", {"iris_loss_gd": losses["gd"], "iris_loss_svd": losses["svd"]}
    )
    wrong = [
        {"iris_loss_gd": losses["gd"], "iris_loss_svd": losses["svd_uncentred"]},
        {"iris_loss_gd": losses["rank1"], "iris_loss_svd": losses["svd"]},
        {"iris_loss_gd": 0.5 * losses["svd"], "iris_loss_svd": losses["svd"]},
        {"iris_loss_gd": torch.tensor(losses["gd"]), "iris_loss_svd": losses["svd"]},
    ]
    for namespace in wrong:
        assert fails("q2a-iris-losses-tests", namespace)


# --------------------------------------------------------------------------------------------
# Question 3: the raw-tensor MLP


def mlp_forward_alt(params: dict, X: torch.Tensor) -> torch.Tensor:
    """Correct, written with F.relu and addmm."""
    hidden = F.relu(torch.addmm(params["b1"].expand(X.shape[0], 12), X, params["W1"]))
    return torch.addmm(params["b2"].expand(X.shape[0], 3), hidden, params["W2"])


def mlp_forward_wrong(params: dict, X: torch.Tensor) -> torch.Tensor:
    """Wrong: the bias b1 added after the ReLU."""
    return (torch.relu(X @ params["W1"]) + params["b1"]) @ params["W2"] + params["b2"]


def mlp_forward_no_relu(params: dict, X: torch.Tensor) -> torch.Tensor:
    """Wrong: no ReLU, so the network is linear."""
    return (X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def test_mlp_forward_variants() -> None:
    passes("q3a-mlp-forward-tests", reference("q3a-mlp-forward"))
    passes("q3a-mlp-forward-tests", {"mlp_forward": mlp_forward_alt})
    assert fails("q3a-mlp-forward-tests", {"mlp_forward": mlp_forward_wrong})
    assert fails("q3a-mlp-forward-tests", {"mlp_forward": mlp_forward_no_relu})


def train_mlp_optim(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01
) -> dict:
    """Correct, written differently: W2 drawn first, torch.optim.SGD, log-softmax by hand."""
    W2 = torch.randn(12, 3, requires_grad=True)
    W1 = torch.randn(4, 12, requires_grad=True)
    b1 = torch.tensor(0.0, requires_grad=True)
    b2 = torch.tensor(0.0, requires_grad=True)
    optimiser = torch.optim.SGD([W1, b1, W2, b2], lr=lr)
    for _ in range(num_epochs):
        logits = torch.relu(X @ W1 + b1) @ W2 + b2
        loss = -logits.log_softmax(dim=1).gather(1, y[:, None]).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def train_mlp_sum_loss(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01
) -> dict:
    """Wrong: summed instead of mean cross-entropy."""
    params = {
        "W1": torch.randn(4, 12),
        "b1": torch.zeros(()),
        "W2": torch.randn(12, 3),
        "b2": torch.zeros(()),
    }
    for p in params.values():
        p.requires_grad_()
    for _ in range(num_epochs):
        loss = F.cross_entropy(
            torch.relu(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"],
            y,
            reduction="sum",
        )
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                p -= lr * g
    return params


def train_mlp_vector_bias(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01
) -> dict:
    """Wrong: one bias per unit instead of scalar biases."""
    params = train_mlp_optim(X, y, num_epochs, lr)
    params["b1"] = params["b1"].detach().expand(12).clone()
    return params


def train_mlp_scaled_init(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01
) -> dict:
    """Wrong: a scaled ("Xavier-like") initialisation instead of the standard normal asked for."""
    params = {
        "W1": torch.randn(4, 12) / 2,
        "b1": torch.zeros(()),
        "W2": torch.randn(12, 3) / 12**0.5,
        "b2": torch.zeros(()),
    }
    for p in params.values():
        p.requires_grad_()
    optimiser = torch.optim.SGD(list(params.values()), lr=lr)
    for _ in range(num_epochs):
        optimiser.zero_grad()
        F.cross_entropy(
            torch.relu(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"], y
        ).backward()
        optimiser.step()
    return params


def train_mlp_fixed_lr(X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01) -> dict:
    """Wrong: ignores the lr argument."""
    return train_mlp_optim(X, y, num_epochs, 0.01)


def train_mlp_fixed_epochs(X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01) -> dict:
    """Wrong: ignores the num_epochs argument (except for returning the start)."""
    return train_mlp_optim(X, y, 100 if num_epochs else 0, lr)


def test_train_mlp_variants() -> None:
    passes("q3b-train-mlp-tests", reference("q3a-mlp-forward", "q3b-train-mlp"))
    passes("q3b-train-mlp-tests", {"train_mlp": train_mlp_optim})
    assert fails("q3b-train-mlp-tests", {"train_mlp": train_mlp_sum_loss})
    assert fails("q3b-train-mlp-tests", {"train_mlp": train_mlp_vector_bias})
    assert fails("q3b-train-mlp-tests", {"train_mlp": train_mlp_scaled_init})
    assert fails("q3b-train-mlp-tests", {"train_mlp": train_mlp_fixed_lr})
    assert fails("q3b-train-mlp-tests", {"train_mlp": train_mlp_fixed_epochs})


@pytest.mark.slow
def test_train_mlp_reference_and_alternative_pass_20_seeds() -> None:
    gid = "q3b-train-mlp-tests"
    ref_ns = reference("q3a-mlp-forward", "q3b-train-mlp")
    for seed in range(20):
        assert LAB.passes(gid, ref_ns, ref_ns, seed), f"the reference fails its own judge at seed {seed}"
        assert LAB.passes(gid, {"train_mlp": train_mlp_optim}, reference_record(gid, seed), seed), seed


@pytest.mark.parametrize("grade_id", AUTOGRADED)
def test_hidden_blocks_in_probe_judge_form(grade_id: str) -> None:
    test = LAB.hidden_test(grade_id)
    assert "def probe(" in test.probe_source and "def judge(" not in test.probe_source
    assert "def judge(" in test.judge_source and "def probe(" not in test.judge_source


def test_visible_checks_pass_for_the_reference() -> None:
    for grade_id in AUTOGRADED:
        LAB.run_visible(grade_id, {**_base_namespace(), **reference_namespace(grade_id)})


# --------------------------------------------------------------------------------------------
# Question 4: the Jacobian of a tanh layer and its vector-Jacobian product


def _tanh_slope(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(W @ x + b) ** 2


def jacobian_loops(W, b, x):
    """Correct: element by element with Python floats, returned as a float64 tensor."""
    m, n = W.shape
    z = [sum(float(W[i, j]) * float(x[j]) for j in range(n)) + float(b[i]) for i in range(m)]
    return torch.tensor([[(1 - math.tanh(z[i]) ** 2) * float(W[i, j]) for j in range(n)] for i in range(m)])


def jacobian_diag_matmul(W, b, x):
    """Correct: diag(1 - tanh^2) @ W, with the slope written as 1 / cosh^2."""
    return torch.diag(1 / torch.cosh(W @ x + b) ** 2) @ W


def jacobian_numpy(W, b, x):
    """Correct: computed with NumPy in float32, returned as a float32 tensor."""
    Wn, bn, xn = (t.numpy().astype(np.float32) for t in (W, b, x))
    return torch.from_numpy(np.einsum("i,ij->ij", 1 - np.tanh(Wn @ xn + bn) ** 2, Wn))


def jacobian_transposed(W, b, x):
    return (_tanh_slope(W, b, x)[:, None] * W).T


def jacobian_one_minus_z_squared(W, b, x):
    return (1 - (W @ x + b) ** 2)[:, None] * W


def jacobian_without_square(W, b, x):
    return (1 - torch.tanh(W @ x + b))[:, None] * W


def jacobian_without_slope(W, b, x):
    return W.clone()


def jacobian_diagonal_only(W, b, x):
    return torch.diag(_tanh_slope(W, b, x))


def jacobian_columns_scaled(W, b, x):
    """Wrong: the slope (one per output) broadcast over the columns, where the shapes allow."""
    d = _tanh_slope(W, b, x)
    return W * d[None, :] if W.shape[0] == W.shape[1] else W * d.mean()


def vjp_loops(W, b, x, v):
    """Correct: loops over outputs, accumulating each output's row."""
    out = torch.zeros(W.shape[1], dtype=W.dtype)
    for i in range(W.shape[0]):
        out = out + v[i] * (1 - torch.tanh(W[i] @ x + b[i]) ** 2) * W[i]
    return out


def vjp_row_vector(W, b, x, v):
    """Correct: (v * slope) @ W, a row vector times W."""
    return (v * _tanh_slope(W, b, x)) @ W


def vjp_via_jacobian(W, b, x, v):
    """Correct value, though it forms J (the judge cannot tell, and accepts it)."""
    return v @ (_tanh_slope(W, b, x)[:, None] * W)


def vjp_einsum_float32(W, b, x, v):
    """Correct: einsum in float32."""
    W, b, x, v = (t.float() for t in (W, b, x, v))
    return torch.einsum("i,ij->j", v * (1 - torch.tanh(W @ x + b) ** 2), W)


def vjp_is_jv(W, b, x, v):
    """Wrong: J v (only defined for a square W; raises otherwise)."""
    return _tanh_slope(W, b, x) * (W @ v)


def vjp_w_not_transposed(W, b, x, v):
    return W @ (v * _tanh_slope(W, b, x))


def vjp_one_minus_z_squared(W, b, x, v):
    return W.T @ (v * (1 - (W @ x + b) ** 2))


def vjp_without_slope(W, b, x, v):
    return W.T @ v


def vjp_without_w(W, b, x, v):
    return v * _tanh_slope(W, b, x)


def vjp_slope_after_w(W, b, x, v):
    """Wrong: the slope applied to the result (per input) instead of to v (per output)."""
    d = _tanh_slope(W, b, x)
    return (W.T @ v) * (d if W.shape[0] == W.shape[1] else d.mean())


def vjp_changes_v_in_place(W, b, x, v):
    """Right value, but v is overwritten."""
    v *= _tanh_slope(W, b, x)
    return W.T @ v


CORRECT = {  # grade id -> correct answers written differently from the reference; each must pass
    "q4a-layer-jacobian-tests": [jacobian_loops, jacobian_diag_matmul, jacobian_numpy],
    "q4b-layer-vjp-tests": [vjp_loops, vjp_row_vector, vjp_via_jacobian, vjp_einsum_float32],
}
MUTATIONS = {  # grade id -> wrong answers; each must fail at seeds 0 and 1
    "q4a-layer-jacobian-tests": [
        jacobian_transposed,
        jacobian_one_minus_z_squared,
        jacobian_without_square,
        jacobian_without_slope,
        jacobian_diagonal_only,
        jacobian_columns_scaled,
    ],
    "q4b-layer-vjp-tests": [
        vjp_is_jv,
        vjp_w_not_transposed,
        vjp_one_minus_z_squared,
        vjp_without_slope,
        vjp_without_w,
        vjp_slope_after_w,
        vjp_changes_v_in_place,
    ],
}
_Q4_NAME = {"q4a-layer-jacobian-tests": "tanh_layer_jacobian", "q4b-layer-vjp-tests": "tanh_layer_vjp"}


def _q4_cases(table: dict[str, list]) -> list:
    return [pytest.param(gid, fn, id=f"{gid}-{fn.__name__}") for gid, fns in table.items() for fn in fns]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("grade_id", list(CORRECT))
def test_q4_reference_passes_its_own_judge(grade_id: str, seed: int) -> None:
    passes(grade_id, reference_namespace(grade_id), seed)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("grade_id", "fn"), _q4_cases(CORRECT))
def test_q4_correct_answers_written_differently_pass(grade_id: str, fn: Any, seed: int) -> None:
    passes(grade_id, {_Q4_NAME[grade_id]: fn}, seed)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("grade_id", "fn"), _q4_cases(MUTATIONS))
def test_q4_wrong_answers_fail(grade_id: str, fn: Any, seed: int) -> None:
    assert fails(grade_id, {_Q4_NAME[grade_id]: fn}, seed)


@pytest.mark.parametrize(
    ("grade_id", "fn", "words"),
    [
        ("q4a-layer-jacobian-tests", jacobian_transposed, "transposed"),
        ("q4a-layer-jacobian-tests", jacobian_one_minus_z_squared, "not 1 - z^2"),
        ("q4a-layer-jacobian-tests", jacobian_without_square, "square is missing"),
        ("q4a-layer-jacobian-tests", jacobian_without_slope, "tanh'(z) of the chain rule is missing"),
        ("q4b-layer-vjp-tests", vjp_is_jv, "J v"),
        ("q4b-layer-vjp-tests", vjp_one_minus_z_squared, "not 1 - z^2"),
        ("q4b-layer-vjp-tests", vjp_without_slope, "tanh'(z) of the chain rule is missing"),
        ("q4b-layer-vjp-tests", vjp_without_w, "W^T is missing"),
        ("q4b-layer-vjp-tests", vjp_changes_v_in_place, "in place"),
    ],
)
def test_q4_judges_name_the_mistake(grade_id: str, fn: Any, words: str) -> None:
    result = verdict(grade_id, {_Q4_NAME[grade_id]: fn})
    assert not result.passed and words in result.message, result.message


def test_q4_judge_sees_the_inputs_from_the_reference_only() -> None:
    """An answer that echoes a Jacobian of other inputs (here all zero) fails: the judge
    recomputes J from the reference's W, b, x."""
    def zeros(W, b, x):
        return torch.zeros(W.shape, dtype=W.dtype)

    assert fails("q4a-layer-jacobian-tests", {"tanh_layer_jacobian": zeros})


@pytest.mark.parametrize("grade_id", list(CORRECT))
def test_q4_reference_passes_for_more_seeds(grade_id: str) -> None:
    ns = reference_namespace(grade_id)
    for seed in range(2, 12):
        assert LAB.passes(grade_id, ns, ns, seed), seed


# --------------------------------------------------------------------------------------------
# Visible checks: the correct answers pass them, the obvious wrong ones are stopped there


def _visible(grade_id: str, namespace: dict[str, Any]) -> None:
    LAB.run_visible(grade_id, {**_base_namespace(), **namespace})


@pytest.mark.parametrize(("grade_id", "fn"), _q4_cases(CORRECT))
def test_q4_correct_answers_pass_the_visible_checks(grade_id: str, fn: Any) -> None:
    _visible(grade_id, {_Q4_NAME[grade_id]: fn})


@pytest.mark.parametrize(
    ("grade_id", "fn"),
    [c for c in _q4_cases(MUTATIONS) if c.values[1] is not vjp_changes_v_in_place],
)
def test_q4_visible_checks_reject_the_wrong_values(grade_id: str, fn: Any) -> None:
    with pytest.raises(Exception):  # noqa: B017 - a failed check or the error the answer raises
        _visible(grade_id, {_Q4_NAME[grade_id]: fn})


_DUAL_WRONG = {
    "rsub-sign": {"__rsub__": lambda self, o: self - o},
    "product-rule-half": {
        "__mul__": lambda self, o: type(self)(self.real * type(self).lift(o).real, self.real * type(self).lift(o).dual)
    },
    "log-derivative": {"log": lambda self: type(self)(math.log(self.real), self.dual * self.real)},
}


@pytest.mark.parametrize("wrong", list(_DUAL_WRONG))
def test_dual_visible_checks_reject_wrong_rules(wrong: str) -> None:
    with pytest.raises(AssertionError):
        _visible("dual-class-tests", {"Dual": _dual_with(**_DUAL_WRONG[wrong])})


@pytest.mark.parametrize("kind", ["no-dedupe", "forward-order", "overwrite"])
def test_value_visible_checks_reject_wrong_backward(kind: str) -> None:
    with pytest.raises(AssertionError):
        _visible("value-class-tests", {"Value": _value_with_backward(kind)})


@pytest.mark.parametrize("variant", ["closures-stack", "kahn"])
def test_value_variants_pass_the_visible_checks(variant: str) -> None:
    _visible("value-class-tests", {"Value": ValueClosures if variant == "closures-stack" else _value_kahn()})


def gd_factorise_no_zero_grad(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Wrong: never zeroes the gradients, so each step adds up all the earlier gradients."""
    U = torch.rand(A.shape[0], rank, requires_grad=True)
    V = torch.rand(A.shape[1], rank, requires_grad=True)
    for _ in range(num_epochs):
        ((A - U @ V.T) ** 2).sum().backward()
        with torch.no_grad():
            U -= lr * U.grad
            V -= lr * V.grad
    return U.detach(), V.detach()


@pytest.mark.parametrize(
    "fn",
    [gd_factorise_mean_loss, gd_factorise_attached, gd_factorise_fixed_lr, gd_factorise_fixed_epochs,
     gd_factorise_no_zero_grad, gd_factorise_randn],
)
def test_factorise_visible_checks_reject_wrong_answers(fn: Any) -> None:
    with pytest.raises(AssertionError):
        _visible("q1-gd-factorise-ad-tests", {"gd_factorise_ad": fn})


def test_factorise_no_zero_grad_fails_the_hidden_test_too() -> None:
    assert fails("q1-gd-factorise-ad-tests", {"gd_factorise_ad": gd_factorise_no_zero_grad})


@pytest.mark.parametrize("fn", [gd_factorise_optim, gd_factorise_grad])
def test_factorise_variants_pass_the_visible_checks(fn: Any) -> None:
    _visible("q1-gd-factorise-ad-tests", {"gd_factorise_ad": fn})


def test_iris_visible_checks_reject_wrong_losses() -> None:
    losses = _iris_losses()
    _visible("q2a-iris-losses-tests", {"iris_loss_gd": losses["gd"], "iris_loss_svd": losses["svd"]})
    for gd, svd in [
        (losses["gd"], losses["svd_uncentred"]),
        (losses["rank1"], losses["svd"]),
        (0.5 * losses["svd"], losses["svd"]),
    ]:
        with pytest.raises(AssertionError):
            _visible("q2a-iris-losses-tests", {"iris_loss_gd": gd, "iris_loss_svd": svd})


@pytest.mark.parametrize("fn", [mlp_forward_wrong, mlp_forward_no_relu])
def test_mlp_forward_visible_checks_reject_wrong_answers(fn: Any) -> None:
    with pytest.raises(AssertionError):
        _visible("q3a-mlp-forward-tests", {"mlp_forward": fn})


def train_mlp_ascent(X: torch.Tensor, y: torch.Tensor, num_epochs: int = 100, lr: float = 0.01) -> dict:
    """Wrong: steps up the gradient."""
    params = {"W1": torch.randn(4, 12), "b1": torch.zeros(()), "W2": torch.randn(12, 3), "b2": torch.zeros(())}
    params = {k: v.requires_grad_() for k, v in params.items()}
    for _ in range(num_epochs):
        loss = F.cross_entropy(torch.relu(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"], y)
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                p += lr * g
    return params


@pytest.mark.parametrize("fn", [train_mlp_ascent, train_mlp_vector_bias])
def test_train_mlp_visible_checks_reject_wrong_answers(fn: Any) -> None:
    ns = {"train_mlp": fn, "mlp_forward": reference("q3a-mlp-forward")["mlp_forward"]}
    with pytest.raises(AssertionError):
        _visible("q3b-train-mlp-tests", ns)


def test_train_mlp_variant_passes_the_visible_checks() -> None:
    _visible("q3b-train-mlp-tests", {"train_mlp": train_mlp_optim, "mlp_forward": reference("q3a-mlp-forward")["mlp_forward"]})


# --------------------------------------------------------------------------------------------
# The notebook's frame: wording, timing line, self-checks, what to try next


def test_wording_timing_line_and_what_to_try_next() -> None:
    import re

    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert not re.search(r"\bmarks?\b", text), "use 'points', not 'marks'"
    titles = re.findall(r"^### Question (\d+): .+ \((\d+) points?\)$", text, flags=re.M)
    assert [t[0] for t in titles] == ["1", "2", "3", "4"]
    assert sum(int(t[1]) for t in titles) == 20 - 4  # plus the 4 points of Exercises 1 and 2
    assert "How long it takes" in nb.cells[1].source and "COURSE_FAST=1" in nb.cells[1].source
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert headings.index("## What to try next") > headings.index("## Problem sheet")
    try_next = next(c.source for c in nb.cells if c.source.startswith("## What to try next"))
    assert 3 <= len(re.findall(r"^\d\. ", try_next, flags=re.M)) <= 5


def test_every_check_label_is_in_the_summary_in_order() -> None:
    import re

    nb = nbformat.read(NOTEBOOK, as_version=4)
    labels = [label for c in nb.cells if c.cell_type == "code"
              for label in re.findall(r'with (?:question|exercise)\("([^"]+)"\)', c.source)]
    last = [c for c in nb.cells if c.cell_type == "code"][-1].source
    assert "summary(" in last
    assert re.findall(r'^        "([^"]+)",$', last, flags=re.M) == labels
    graded_tests = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
    graded_labels = [label for c in nb.cells if c.cell_type == "code"
                     for label in re.findall(r'with question\("([^"]+)"\)', c.source)]
    assert len(graded_labels) == len(graded_tests) == len(AUTOGRADED)
    assert [label for label in labels if label not in graded_labels] == ["Exercise 3: softmax_vjp"]


def test_concept_figure_draws_the_reference_value_graph() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.concepts.autodiff import draw_computation_graph, graph_nodes

    Value = reference("value-class")["Value"]
    x, y = Value(0.5), Value(2.0)
    out = (x * y + x.sin()) / (y**2 + 1) - (x / y).exp()
    out.backward()
    fig = draw_computation_graph(out, names={"x": x, "y": y})
    drawn = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert {"x", "y", "sin", "exp", "/", "neg"} <= set(drawn)
    assert f"grad {x.grad:.4g}" in drawn
    assert len(graph_nodes(out)) == sum(1 for p in fig.axes[0].patches if type(p).__name__ == "FancyBboxPatch")


# --------------------------------------------------------------------------------------------
# Exercise 3 (ungraded): the softmax VJP


def _softmax_check_ok(softmax_vjp: Any) -> bool:
    """Run Exercise 3's check cell; True when it records a pass."""
    from course_utils import selfcheck
    from lab_notebook import run_source

    source = next(c.source for c in LAB.notebook.cells if c.get("id") == "softmax-vjp-check")
    selfcheck.reset()
    try:
        run_source(source, {**_base_namespace(), "softmax_vjp": softmax_vjp}, "<softmax-vjp-check>")
    except Exception:  # noqa: BLE001 - a recorded failure may be raised again by the test helper
        return False
    rows = [row for row in selfcheck.results() if row.label == "Exercise 3: softmax_vjp"]
    return bool(rows) and rows[0].ok


def softmax_vjp_outer(x, v):
    """Correct: the two terms of J written out, s * v minus s times (s . v)."""
    s = torch.exp(x - x.max())
    s = s / s.sum()
    return s * v - s * torch.dot(s, v)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, v: torch.softmax(x, 0) * v,  # the diagonal term only
        lambda x, v: -torch.softmax(x, 0) * (v @ torch.softmax(x, 0)),  # the outer-product term only
        lambda x, v: torch.softmax(x, 0) * (v - v.sum()),  # v . s replaced by the sum of v
        lambda x, v: torch.softmax(x, 0) * (v - v @ torch.softmax(x, 0))[:1],  # wrong shape for n > 1
    ],
    ids=["missing-outer-product", "missing-diagonal", "sum-instead-of-dot", "wrong-shape"],
)
def test_softmax_vjp_check_rejects_wrong_answers(fn: Any) -> None:
    assert not _softmax_check_ok(fn)


def test_softmax_vjp_check_accepts_the_reference_and_another_form() -> None:
    assert _softmax_check_ok(reference("softmax-vjp")["softmax_vjp"])
    assert _softmax_check_ok(softmax_vjp_outer)


def test_softmax_vjp_stub_is_reported_and_run_all_carries_on() -> None:
    def stub(x, v):
        raise NotImplementedError()

    assert not _softmax_check_ok(stub)
