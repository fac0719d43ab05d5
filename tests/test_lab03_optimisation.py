"""Lab 03 (optimisation): the hidden tests judge behaviour, not code shape.

Each autograded test cell of the source notebook is run here, hidden tests included, against
the notebook's own reference answers, against correct answers written differently and against
wrong answers, which must fail.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
import torch
from lab_notebook import LabCells
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "lab03_optimisation" / "lab03_optimisation.ipynb"
NAMES = ["SGD", "Momentum", "Adagrad", "Adam"]


def _base_namespace() -> dict[str, Any]:
    return {
        "math": math,
        "np": np,
        "torch": torch,
        "nn": nn,
        "DataLoader": DataLoader,
        "TensorDataset": TensorDataset,
    }


LAB = LabCells("lab03_optimisation", _base_namespace)
CELLS = LAB.cells
NB = LAB.notebook
reference = LAB.reference
run_tests = LAB.run_tests
fails = LAB.fails
pytestmark = pytest.mark.usefixtures("torch_one_thread")


# --------------------------------------------------------------------------------------------
# The notebook itself


def test_graded_cells_and_points() -> None:
    points = {
        gid: c.metadata["nbgrader"].get("points", 0)
        for gid, c in CELLS.items()
        if c.metadata["nbgrader"].get("grade")
    }
    assert sum(points.values()) == 20
    autograded = {
        gid
        for gid, c in CELLS.items()
        if c.metadata["nbgrader"].get("grade") and not c.metadata["nbgrader"].get("solution")
    }
    assert autograded == {
        "q1a-rastrigin-tests",
        "q1b-rastrigin-race-tests",
        "q2-hinge-loss-tests",
        "q3a-svm-table-tests",
    }
    assert all(not c.get("outputs") for c in NB.cells if c.cell_type == "code"), (
        "commit with outputs cleared"
    )
    assert [c.id for c in NB.cells if "nbgrader" in c.metadata] == list(CELLS), (
        "cell ids are the grade ids"
    )


@pytest.mark.parametrize(
    ("test_id", "answer_id"),
    [
        ("q1a-rastrigin-tests", "q1a-rastrigin"),
        ("q1b-rastrigin-race-tests", "q1b-rastrigin-race"),
        ("q2-hinge-loss-tests", "q2-hinge-loss"),
        ("q3a-svm-table-tests", "q3a-svm-table"),
    ],
)
def test_release_stubs_score_zero(test_id: str, answer_id: str) -> None:
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    config = Config()
    config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    cell = CELLS[answer_id]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)]
    )
    nb, _ = ClearSolutions(config=config).preprocess(nb, {})
    namespace = _base_namespace() | {"budget": lambda full, fast: fast}
    try:
        exec(nb.cells[0].source, namespace)  # noqa: S102
    except NotImplementedError:
        pass
    assert fails(test_id, namespace)


# --------------------------------------------------------------------------------------------
# Question 1 (a): rastrigin


def rastrigin_explicit(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Correct, written for 2-D points coordinate by coordinate, with torch.pi."""
    x1, x2 = x[..., 0], x[..., 1]
    return 2 * A + x1**2 + x2**2 - A * (torch.cos(2 * torch.pi * x1) + torch.cos(2 * torch.pi * x2))


def rastrigin_chained(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Correct, written with tensor methods and a keepdim reduction squeezed afterwards."""
    terms = x.pow(2).sub(torch.cos(x.mul(2 * math.pi)).mul(A))
    return terms.sum(dim=-1, keepdim=True).squeeze(-1).add(A * x.size(-1))


def rastrigin_a10(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: the textbook constant 10 instead of the argument A."""
    return 10 * 2 + (x**2 - 10 * torch.cos(2 * math.pi * x)).sum(-1)


def rastrigin_sum_all(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: sums over every dimension, so a batch gives one number."""
    return A * x.shape[-1] + (x**2 - A * torch.cos(2 * math.pi * x)).sum()


def rastrigin_numpy(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: computed in NumPy, so autograd cannot differentiate it."""
    a = x.detach().numpy()
    return torch.tensor(A * 2 + (a**2 - A * np.cos(2 * np.pi * a)).sum(-1))


@pytest.mark.parametrize(
    "fn", [None, rastrigin_explicit, rastrigin_chained], ids=["reference", "explicit", "chained"]
)
def test_rastrigin_correct_variants_pass(fn: Any) -> None:
    run_tests(
        "q1a-rastrigin-tests", reference("q1a-rastrigin") if fn is None else {"rastrigin": fn}
    )


@pytest.mark.parametrize("fn", [rastrigin_a10, rastrigin_sum_all, rastrigin_numpy])
def test_rastrigin_wrong_variants_fail(fn: Any) -> None:
    assert fails("q1a-rastrigin-tests", {"rastrigin": fn})


# --------------------------------------------------------------------------------------------
# Question 1 (b): the optimiser race


def _race(
    rastrigin: Any, settings: dict[str, tuple[type, dict]], steps: int = 100, dtype=torch.float32
) -> dict:
    points = {}
    for name, (cls, kwargs) in settings.items():
        x = torch.tensor([5.0, 4.0], dtype=dtype, requires_grad=True)
        optimiser = cls([x], **kwargs)
        for _ in range(steps):
            optimiser.zero_grad()
            rastrigin(x).backward()
            optimiser.step()
        points[name] = x.detach().float()
    return points


RIGHT = {
    "SGD": (torch.optim.SGD, {"lr": 0.01}),
    "Momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}),
    "Adagrad": (torch.optim.Adagrad, {"lr": 0.01}),
    "Adam": (torch.optim.Adam, {"lr": 0.01}),
}


def test_race_reference_passes() -> None:
    namespace = reference("q1a-rastrigin")
    run_optimiser = None
    for cell in NB.cells:
        if cell.cell_type == "code" and cell.source.startswith("def run_optimiser"):
            exec(cell.source, namespace)  # noqa: S102
            run_optimiser = namespace["run_optimiser"]
    assert run_optimiser is not None
    exec(CELLS["q1b-rastrigin-race"].source, namespace)  # noqa: S102
    assert all(len(namespace["rastrigin_losses"][n]) == 100 for n in NAMES)
    run_tests("q1b-rastrigin-race-tests", namespace)


def test_race_correct_variants_pass() -> None:
    # Another loop, another (correct) rastrigin, and a run in float64.
    run_tests("q1b-rastrigin-race-tests", {"final_points": _race(rastrigin_explicit, RIGHT)})
    run_tests(
        "q1b-rastrigin-race-tests",
        {"final_points": _race(rastrigin_chained, RIGHT, dtype=torch.float64)},
    )


@pytest.mark.parametrize(
    "change",
    [
        {"Adam": (torch.optim.Adam, {"lr": 0.1})},
        {"Momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True})},
        {"Adagrad": (torch.optim.Adam, {"lr": 0.01})},
    ],
    ids=["adam-lr", "nesterov", "adam-for-adagrad"],
)
def test_race_wrong_settings_fail(change: dict) -> None:
    assert fails(
        "q1b-rastrigin-race-tests", {"final_points": _race(rastrigin_explicit, RIGHT | change)}
    )


def test_race_wrong_answers_fail() -> None:
    right = _race(rastrigin_explicit, RIGHT)
    assert fails(
        "q1b-rastrigin-race-tests", {"final_points": _race(rastrigin_explicit, RIGHT, steps=99)}
    )
    assert fails("q1b-rastrigin-race-tests", {"final_points": _race(rastrigin_a10, RIGHT)})
    assert fails(
        "q1b-rastrigin-race-tests", {"final_points": {k.lower(): v for k, v in right.items()}}
    )
    assert fails(
        "q1b-rastrigin-race-tests", {"final_points": {k: v.tolist() for k, v in right.items()}}
    )


# --------------------------------------------------------------------------------------------
# Question 2: hinge loss


def hinge_relu(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Correct, written with relu and view(-1)."""
    return torch.relu(1 - y_pred.view(-1) * y_true).mean()


def hinge_maximum(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Correct, written with torch.maximum, a squeeze and an explicit division."""
    margins = y_true * (y_pred.squeeze(-1) if y_pred.dim() == 2 else y_pred)
    return torch.maximum(torch.zeros_like(margins), 1 - margins).sum() / y_true.numel()


def hinge_broadcast_bug(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: (N, 1) * (N,) broadcasts to (N, N)."""
    return torch.clamp(1 - y_true * y_pred, min=0).mean()


def hinge_sum(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: a sum instead of a mean."""
    return torch.clamp(1 - y_true * y_pred.reshape(-1), min=0).sum()


def hinge_no_margin(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: max(0, -y s), the perceptron loss, without the margin of 1."""
    return torch.clamp(-y_true * y_pred.reshape(-1), min=0).mean()


@pytest.mark.parametrize(
    "fn", [None, hinge_relu, hinge_maximum], ids=["reference", "relu-view", "maximum-squeeze"]
)
def test_hinge_correct_variants_pass(fn: Any) -> None:
    run_tests(
        "q2-hinge-loss-tests", reference("q2-hinge-loss") if fn is None else {"hinge_loss": fn}
    )


@pytest.mark.parametrize("fn", [hinge_broadcast_bug, hinge_sum, hinge_no_margin])
def test_hinge_wrong_variants_fail(fn: Any) -> None:
    assert fails("q2-hinge-loss-tests", {"hinge_loss": fn})


# --------------------------------------------------------------------------------------------
# Question 3: the SVM table


def _table(means: list[float], variances: list[float], **row_changes: Any) -> list[dict]:
    rows = []
    combos = [(o, lr) for o in ("SGD", "Adam") for lr in (1e-2, 1e-3, 1e-4)]
    for (o, lr), m, v in zip(combos, means, variances):
        rows.append({"optimiser": o, "lr": lr, "mean_acc": m, "var_acc": v} | row_changes)
    return rows


MEANS = [0.80, 0.53, 0.44, 0.80, 0.65, 0.44]
VARS = [0.0075, 0.079, 0.061, 0.0032, 0.053, 0.061]


def test_svm_table_reference_run() -> None:
    """The notebook's own answer, run end to end in fast mode on its own data-preparation cell."""
    namespace = _base_namespace() | reference("train-epoch", "q2-hinge-loss")
    from course_utils import seed_everything

    namespace |= {
        "budget": lambda full, fast: fast,
        "seed_everything": seed_everything,
        "tqdm": lambda x, **k: x,
        "load_iris": __import__("sklearn.datasets", fromlist=["load_iris"]).load_iris,
    }
    data_cell = next(
        c for c in NB.cells if c.cell_type == "code" and "two_species = iris.target > 0" in c.source
    )
    exec(data_cell.source, namespace)  # noqa: S102
    exec(CELLS["q3a-svm-table"].source, namespace)  # noqa: S102
    run_tests("q3a-svm-table-tests", namespace)
    best = max(row["mean_acc"] for row in namespace["svm_results"])
    assert best >= 0.75


def test_svm_table_other_layouts_pass() -> None:
    run_tests("q3a-svm-table-tests", {"svm_results": _table(MEANS, VARS)})
    # Lower-case names, numpy floats, rows in another order.
    rows = [
        r | {"optimiser": r["optimiser"].lower(), "mean_acc": np.float64(r["mean_acc"])}
        for r in _table(MEANS, VARS)
    ]
    run_tests("q3a-svm-table-tests", {"svm_results": rows[::-1]})


def test_svm_table_wrong_answers_fail() -> None:
    assert fails("q3a-svm-table-tests", {"svm_results": _table(MEANS, VARS)[:5]})
    assert fails("q3a-svm-table-tests", {"svm_results": _table([100 * m for m in MEANS], VARS)})
    assert fails(
        "q3a-svm-table-tests", {"svm_results": _table(MEANS, [math.sqrt(v) for v in VARS])}
    )
    assert fails("q3a-svm-table-tests", {"svm_results": _table([0.5] * 6, VARS)})
    assert fails("q3a-svm-table-tests", {"svm_results": _table(MEANS, [-v for v in VARS])})
    duplicated = _table(MEANS, VARS)
    duplicated[1] = duplicated[0]
    assert fails("q3a-svm-table-tests", {"svm_results": duplicated})
    assert fails("q3a-svm-table-tests", {"svm_results": {"SGD": MEANS[:3], "Adam": MEANS[3:]}})
