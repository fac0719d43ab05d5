"""Lab 03 (optimisation): the hidden tests judge behaviour, not code shape.

Each autograded test cell's hidden block is a probe (run here over a namespace, through the
real wire format) and a judge (run against the reference's record for the same seed). The
lists below are data: ``CORRECT`` holds answers written differently from the reference, which
must pass; ``MUTATIONS`` holds typical wrong answers, which must fail on their question.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from lab_notebook import LabCells
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import seed_everything

NAMES = ["SGD", "Momentum", "Adagrad", "Adam"]
SEEDS = (0, 1)  # seeds of the mutation and correct-but-different checks
STOCHASTIC_SEEDS = range(20)
# The SVM table in these tests: fewer epochs and runs than the notebook's fast mode (50, 3),
# the same code. The reference namespace and the answers under test use the same values.
SVM_EPOCHS, SVM_RUNS = 5, 2


def _base_namespace() -> dict[str, Any]:
    return {
        "math": math,
        "np": np,
        "torch": torch,
        "nn": nn,
        "DataLoader": DataLoader,
        "TensorDataset": TensorDataset,
        "seed_everything": seed_everything,
        "tqdm": lambda items, **_: items,
    }


LAB = LabCells("lab03_optimisation", _base_namespace)
CELLS = LAB.cells
NB = LAB.notebook
pytestmark = pytest.mark.usefixtures("torch_one_thread")

AUTOGRADED = {
    "q1a-rastrigin-tests": "q1a-rastrigin",
    "q1b-rastrigin-race-tests": "q1b-rastrigin-race",
    "q2-hinge-loss-tests": "q2-hinge-loss",
    "q3a-svm-table-tests": "q3a-svm-table",
    "q4a-momentum-step-tests": "q4a-momentum-step",
    "q4b-adam-step-tests": "q4b-adam-step",
}
# The notebook's helpers that the visible checks of Question 4 use.
Q4_HELPERS = ("torch_optimiser_path", "step_function_path", "random_problem")


# --------------------------------------------------------------------------------------------
# Reference namespaces and records (computed once per test session)


def _svm_data(namespace: dict[str, Any]) -> dict[str, Any]:
    from sklearn.datasets import load_iris

    namespace["load_iris"] = load_iris
    data_cell = next(c for c in NB.cells if c.cell_type == "code" and "two_species = iris.target > 0" in c.source)
    exec(data_cell.source, namespace)  # noqa: S102 - the notebook's own data preparation
    return namespace


def _budget(full: Any, fast: Any) -> Any:
    """The notebook's budget() in these tests: a smaller SVM table than fast mode."""
    return {50: SVM_EPOCHS, 3: SVM_RUNS}.get(fast, fast)


@functools.cache
def _reference_namespace(grade_id: str) -> dict[str, Any]:
    if grade_id == "q1b-rastrigin-race-tests":
        namespace = LAB.reference("q1a-rastrigin")
        exec(LAB.definition("run_optimiser"), namespace)  # noqa: S102
        exec(CELLS["q1b-rastrigin-race"].source, namespace)  # noqa: S102
        return namespace
    if grade_id == "q3a-svm-table-tests":
        namespace = _svm_data(LAB.reference("train-epoch", "q2-hinge-loss") | {"budget": _budget})
        exec(CELLS["q3a-svm-table"].source, namespace)  # noqa: S102 - trains the table
        return namespace
    namespace = LAB.reference(AUTOGRADED[grade_id])
    if grade_id.startswith("q4"):
        _with_q4_helpers(namespace)
    return namespace


def _with_q4_helpers(namespace: dict[str, Any]) -> dict[str, Any]:
    for name in Q4_HELPERS:
        exec(LAB.definition(name), namespace)  # noqa: S102 - the notebook's own helpers
    return namespace


@functools.cache
def _reference_record(grade_id: str, seed: int):
    record = LAB.probe(grade_id, _reference_namespace(grade_id), seed)
    assert record.ok, f"the reference's probe failed: {record.error}"
    return record


def verdict(grade_id: str, namespace: dict[str, Any], seed: int):
    return LAB.verdict(grade_id, namespace, _reference_record(grade_id, seed), seed)


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


def rastrigin_loop(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Correct, a Python loop over the coordinates in reverse order."""
    total = torch.zeros_like(x[..., 0]) + A * x.shape[-1]
    for i in reversed(range(x.shape[-1])):
        total = total + x[..., i] * x[..., i] - A * torch.cos(2 * math.pi * x[..., i])
    return total


def rastrigin_a10(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: the textbook constant 10 instead of the argument A (A ignored)."""
    return 10 * 2 + (x**2 - 10 * torch.cos(2 * math.pi * x)).sum(-1)


def rastrigin_sum_all(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: sums over every dimension, so a batch gives one number."""
    return A * x.shape[-1] + (x**2 - A * torch.cos(2 * math.pi * x)).sum()


def rastrigin_numpy(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: computed in NumPy, so autograd cannot differentiate it."""
    a = x.detach().numpy()
    return torch.tensor(A * 2 + (a**2 - A * np.cos(2 * np.pi * a)).sum(-1))


def rastrigin_no_constant(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: the constant A·d is missing."""
    return (x**2 - A * torch.cos(2 * math.pi * x)).sum(-1)


def rastrigin_float64(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: promotes float32 points to float64."""
    x = x.double()
    return A * x.shape[-1] + (x**2 - A * torch.cos(2 * math.pi * x)).sum(-1)


def rastrigin_in_place(x: torch.Tensor, A: float = 0.5) -> torch.Tensor:
    """Wrong: squares the caller's tensor in place when it needs no gradient."""
    cos = torch.cos(2 * math.pi * x)
    squares = x.pow_(2) if not x.requires_grad else x**2
    return A * x.shape[-1] + (squares - A * cos).sum(-1)


# --------------------------------------------------------------------------------------------
# Question 1 (b): the optimiser race


RACE = {
    "SGD": (torch.optim.SGD, {"lr": 0.01}),
    "Momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}),
    "Adagrad": (torch.optim.Adagrad, {"lr": 0.01}),
    "Adam": (torch.optim.Adam, {"lr": 0.01}),
}


def race_namespace(
    rastrigin: Callable = rastrigin_explicit,
    settings: dict | None = None,
    steps: int = 100,
    dtype: torch.dtype = torch.float32,
    losses_after_step: bool = False,
) -> dict[str, Any]:
    """final_points and rastrigin_losses from a loop written here."""
    points, losses = {}, {}
    for name, (cls, kwargs) in (settings or RACE).items():
        x = torch.tensor([5.0, 4.0], dtype=dtype, requires_grad=True)
        optimiser = cls([x], **kwargs)
        losses[name] = []
        for _ in range(steps):
            optimiser.zero_grad()
            loss = rastrigin(x)
            loss.backward()
            optimiser.step()
            losses[name].append(rastrigin(x).item() if losses_after_step else loss.item())
        points[name] = x.detach().float()
    return {"final_points": points, "rastrigin_losses": losses}


def race_no_zero_grad() -> dict[str, Any]:
    """Wrong: gradients are never cleared, so they pile up."""
    points, losses = {}, {}
    for name, (cls, kwargs) in RACE.items():
        x = torch.tensor([5.0, 4.0], requires_grad=True)
        optimiser = cls([x], **kwargs)
        losses[name] = []
        for _ in range(100):
            loss = rastrigin_explicit(x)
            loss.backward()
            optimiser.step()
            losses[name].append(loss.item())
        points[name] = x.detach()
    return {"final_points": points, "rastrigin_losses": losses}


def _with(namespace: dict[str, Any], **changes: Callable[[dict], dict]) -> dict[str, Any]:
    return {key: changes[key](value) if key in changes else value for key, value in namespace.items()}


# --------------------------------------------------------------------------------------------
# Question 2: hinge loss


def hinge_relu(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Correct, written with relu and view(-1)."""
    return torch.relu(1 - y_pred.view(-1) * y_true).mean()


def hinge_maximum(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Correct, written with torch.maximum, a squeeze and an explicit division."""
    margins = y_true * (y_pred.squeeze(-1) if y_pred.dim() == 2 else y_pred)
    return torch.maximum(torch.zeros_like(margins), 1 - margins).sum() / y_true.numel()


def hinge_float64(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Correct, computed in float64 with a where."""
    margins = 1 - y_true.double() * y_pred.reshape(-1).double()
    return torch.where(margins > 0, margins, torch.zeros_like(margins)).mean()


def hinge_broadcast_bug(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: (N, 1) * (N,) broadcasts to (N, N)."""
    return torch.clamp(1 - y_true * y_pred, min=0).mean()


def hinge_sum(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: a sum instead of a mean."""
    return torch.clamp(1 - y_true * y_pred.reshape(-1), min=0).sum()


def hinge_no_margin(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: max(0, -y s), the perceptron loss, without the margin of 1."""
    return torch.clamp(-y_true * y_pred.reshape(-1), min=0).mean()


def hinge_in_place(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: multiplies the caller's labels in place."""
    if y_pred.requires_grad:
        return torch.clamp(1 - y_true * y_pred.reshape(-1), min=0).mean()
    return torch.clamp(1 - y_true.mul_(y_pred.reshape(-1)), min=0).mean()


def hinge_detached(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Wrong: the right value, rebuilt as a new tensor that autograd cannot trace."""
    return torch.tensor(float(torch.clamp(1 - y_true * y_pred.reshape(-1), min=0).mean()))


# --------------------------------------------------------------------------------------------
# Question 3 (a): train_svm and the SVM table


COMBINATIONS = [(name, lr) for name in ("SGD", "Adam") for lr in (1e-2, 1e-3, 1e-4)]


def _hinge(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.clamp(1 - y * scores.reshape(-1), min=0).mean()


def make_train_svm(
    optimiser_for: Callable | None = None,
    seed_of: Callable[[int], int] = lambda seed: seed,
    decay_of: Callable[[float], float] = lambda decay: decay,
    lr_of: Callable[[float], float] = lambda lr: lr,
    epochs_of: Callable[[int], int] = lambda epochs: epochs,
    batch_size_of: Callable[[int], int] = lambda n: 25,
    zero_grad: bool = True,
) -> Callable:
    """A train_svm written here (a DataLoader with its own seeded generator), with one thing changed."""

    def choose(name: str, params, lr: float, decay: float):
        return {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}[name](params, lr=lr, weight_decay=decay)

    def train_svm(X, y, optimiser_name, lr, seed, num_epochs, weight_decay=1e-4):
        generator = seed_everything(seed_of(seed))
        model = nn.Linear(X.shape[1], 1)
        make = optimiser_for or choose
        optimiser = make(optimiser_name, model.parameters(), lr_of(lr), decay_of(weight_decay))
        loader = DataLoader(TensorDataset(X, y), batch_size=batch_size_of(len(y)), shuffle=True, generator=generator)
        for _ in range(epochs_of(num_epochs)):
            for inputs, targets in loader:
                if zero_grad:
                    optimiser.zero_grad()
                _hinge(model(inputs), targets).backward()
                optimiser.step()
        return model

    return train_svm


def train_svm_randperm(X, y, optimiser_name, lr, seed, num_epochs, weight_decay=1e-4):
    """Correct: batches by hand from torch.randperm, the optimiser looked up by name, relu hinge."""
    torch.manual_seed(seed)
    model = nn.Linear(X.shape[1], 1)
    optimiser = getattr(torch.optim, optimiser_name)(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(num_epochs):
        order = torch.randperm(len(y))
        for start in range(0, len(y), 25):
            batch = order[start : start + 25]
            optimiser.zero_grad()
            torch.relu(1 - y[batch] * model(X[batch]).squeeze(1)).mean().backward()
            optimiser.step()
    return model


def train_svm_float64(X, y, optimiser_name, lr, seed, num_epochs, weight_decay=1e-4):
    """Correct: the model and the data in float64."""
    seed_everything(seed)
    model = nn.Linear(X.shape[1], 1).double()
    kind = torch.optim.SGD if optimiser_name.lower() == "sgd" else torch.optim.Adam
    optimiser = kind(model.parameters(), lr=lr, weight_decay=weight_decay)
    loader = DataLoader(TensorDataset(X.double(), y.double()), batch_size=25, shuffle=True)
    for _ in range(num_epochs):
        for inputs, targets in loader:
            loss = torch.clamp(1 - targets * model(inputs)[:, 0], min=0).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model


def svm_namespace(
    train_svm: Callable,
    split: str = "train",
    seed_of_run: Callable[[int], int] = lambda run: run,
    spread: Callable = np.var,
    layout: Callable[[list], list] = lambda rows: rows,
) -> dict[str, Any]:
    """A namespace with train_svm and the table built from it (rows as the question asks)."""
    namespace = _svm_data(_base_namespace())
    namespace |= {"train_svm": train_svm, "svm_epochs": SVM_EPOCHS, "svm_runs": SVM_RUNS}
    X_valid, y_valid = namespace["X_svm_valid"], namespace["y_svm_valid"]
    rows = []
    for name, lr in COMBINATIONS:
        accuracies = []
        for run in range(SVM_RUNS):
            model = train_svm(namespace[f"X_svm_{split}"], namespace[f"y_svm_{split}"], name, lr, seed_of_run(run), SVM_EPOCHS)
            with torch.no_grad():
                scores = model(X_valid.to(model.weight.dtype)).reshape(-1)
            accuracies.append((torch.sign(scores) == y_valid).float().mean().item())
        rows.append({"optimiser": name, "lr": lr, "mean_acc": float(np.mean(accuracies)), "var_acc": float(spread(accuracies))})
    namespace["svm_results"] = layout(rows)
    return namespace


def _other_layout(rows: list[dict]) -> list[dict]:
    """Lower-case names, NumPy floats, rows in another order."""
    return [r | {"optimiser": r["optimiser"].lower(), "mean_acc": np.float64(r["mean_acc"])} for r in rows[::-1]]


def _adamw_for_adam(name, params, lr, decay):
    return (torch.optim.AdamW if name == "Adam" else torch.optim.SGD)(params, lr=lr, weight_decay=decay)


# --------------------------------------------------------------------------------------------
# Question 4: momentum_step and adam_step (step functions written from their equations)


def momentum_in_place(params, grads, state, lr, momentum, weight_decay=0.0):
    """Correct: in-place updates of the caller's tensors and of one buffer list, as torch does."""
    buffers = state.setdefault("buffers", [None] * len(params))
    for i, (p, g) in enumerate(zip(params, grads)):
        d_p = g.add(p, alpha=weight_decay) if weight_decay else g
        if buffers[i] is None:
            buffers[i] = torch.clone(d_p).detach()
        else:
            buffers[i].mul_(momentum).add_(d_p)
        p.add_(buffers[i], alpha=-lr)
    return params


def make_momentum_closure():
    """Correct: a closure built by a factory; all memory in `state`, keyed by position, float64 inside."""
    def update(p, g, buffer, lr, momentum, decay):
        g64 = g.double() + decay * p.double()
        buffer = g64 if buffer is None else momentum * buffer + g64
        return (p.double() - lr * buffer), buffer

    def step(params, grads, state, lr, momentum, weight_decay=0.0):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            new, state[f"b{i}"] = update(p, g, state.get(f"b{i}"), lr, momentum, weight_decay)
            out.append(new)
        return tuple(out)

    return step


def momentum_variant(variant: str) -> Callable:
    """Wrong momentum_step answers, each with one known mistake."""
    shared: dict = {}

    def step(params, grads, state, lr, momentum, weight_decay=0.0):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if variant == "grads_in_place":
                g = g.add_(weight_decay * p)
            elif variant != "no_decay":
                g = g + weight_decay * p
            where = shared if variant == "global_state" else state
            key = 0 if variant == "shared" else i
            old = torch.zeros_like(p) if (variant == "reset" or key not in where) else where[key]
            if variant == "lr_in_buffer":
                b = momentum * old + lr * g
                new = p - b
            elif variant == "dampened":
                b = momentum * old + (1 - momentum) * g
                new = p - lr * b
            elif variant == "nesterov":
                b = momentum * old + g
                new = p - lr * (g + momentum * b)
            elif variant == "stale":
                b = momentum * old + g
                new = p - lr * old
            elif variant == "momentum_ignored":
                b = 0.9 * old + g
                new = p - lr * b
            else:
                b = momentum * old + g
                new = p - lr * b
            where[key] = b
            out.append(new)
        return out

    return step


class AdamCallable:
    """Correct: a callable object (a class, not a function), per-parameter state records with their
    own step counts, in-place lerp_/addcmul_ updates as torch writes them."""

    def __call__(self, params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        for i, (p, g) in enumerate(zip(params, grads)):
            record = state.setdefault(i, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            record["step"] += 1
            if weight_decay:
                g = g.add(p, alpha=weight_decay)
            record["m"].lerp_(g, 1 - beta1)
            record["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            correction2 = math.sqrt(1 - beta2 ** record["step"])
            denom = (record["v"].sqrt() / correction2).add_(eps)
            p.addcdiv_(record["m"], denom, value=-lr / (1 - beta1 ** record["step"]))
        return params


def adam_scaled_eps(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Correct: the paper's faster form, the corrections folded into the step size, eps scaled to match."""
    beta1, beta2 = betas
    t = state["t"] = state.get("t", 0) + 1
    alpha = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    eps_hat = eps * math.sqrt(1 - beta2**t)
    out = []
    for i, (p, g) in enumerate(zip(params, grads)):
        g = g + weight_decay * p
        m = state[("m", i)] = beta1 * state.get(("m", i), 0.0) + (1 - beta1) * g
        v = state[("v", i)] = beta2 * state.get(("v", i), 0.0) + (1 - beta2) * g * g
        out.append(p - alpha * m / (v.sqrt() + eps_hat))
    return out


def adam_float64(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Correct: computed and returned in float64, with a step count kept per parameter."""
    beta1, beta2 = betas
    out = []
    for i, (p, g) in enumerate(zip(params, grads)):
        p, g = p.double(), g.double() + weight_decay * p.double()
        s = state.setdefault(i, {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
        s["t"] += 1
        s["m"] = beta1 * s["m"] + (1 - beta1) * g
        s["v"] = beta2 * s["v"] + (1 - beta2) * g**2
        m_hat, v_hat = s["m"] / (1 - beta1 ** s["t"]), s["v"] / (1 - beta2 ** s["t"])
        out.append(p - lr * m_hat / (torch.sqrt(v_hat) + eps))
    return out


def adam_variant(variant: str) -> Callable:
    """Wrong adam_step answers, each with one known mistake."""

    def step(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas[::-1] if variant == "swapped" else betas
        if variant == "betas_ignored":
            beta1, beta2 = 0.9, 0.999
        if variant == "eps_ignored":
            eps = 1e-8
        state["t"] = 1 if variant == "reset" else state.get("t", 0) + (0 if variant == "count_per_param" else 1)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if variant == "count_per_param":
                state["t"] += 1
            t = state["t"] + (1 if variant == "next_step" else 0)
            g = g if variant in ("no_decay", "adamw") else g + weight_decay * p
            key = 0 if variant == "shared" else i
            m_old = torch.zeros_like(p) if variant == "reset" else state.get(("m", key), torch.zeros_like(p))
            v_old = torch.zeros_like(p) if variant == "reset" else state.get(("v", key), torch.zeros_like(p))
            m = beta1 * m_old + (1 - beta1) * g
            v = beta2 * v_old + (1 - beta2) * (g if variant == "v_with_g" else g**2)
            state[("m", key)], state[("v", key)] = m, v
            c1, c2 = (1.0, 1.0) if variant == "no_bias" else (1 - beta1**t, 1 - beta2**t)
            m_hat, v_hat = m / c1, v / c2
            if variant == "eps_inside":
                new = p - lr * m_hat / torch.sqrt(v_hat + eps)
            elif variant == "eps_unscaled":
                new = p - lr * math.sqrt(c2) / c1 * m / (torch.sqrt(v) + eps)
            elif variant == "no_sqrt":
                new = p - lr * m_hat / (v_hat + eps)
            else:
                new = p - lr * m_hat / (torch.sqrt(v_hat) + eps)
            if variant == "adamw":
                new = new - lr * weight_decay * p
            out.append(new)
        return out

    return step


# --------------------------------------------------------------------------------------------
# The lists: correct answers written differently (must pass), wrong answers (must fail)

Factory = Callable[[], dict[str, Any]]

CORRECT: dict[str, tuple[str, Factory]] = {
    "rastrigin-explicit": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_explicit}),
    "rastrigin-chained": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_chained}),
    "rastrigin-loop": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_loop}),
    "race-own-loop": ("q1b-rastrigin-race-tests", lambda: race_namespace()),
    "race-float64": ("q1b-rastrigin-race-tests", lambda: race_namespace(rastrigin_chained, dtype=torch.float64)),
    "race-losses-after-step": ("q1b-rastrigin-race-tests", lambda: race_namespace(losses_after_step=True)),
    "race-loss-tensors": (
        "q1b-rastrigin-race-tests",
        lambda: _with(race_namespace(), rastrigin_losses=lambda d: {k: torch.tensor(v) for k, v in d.items()}),
    ),
    "hinge-relu-view": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_relu}),
    "hinge-maximum-squeeze": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_maximum}),
    "hinge-float64-where": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_float64}),
    "svm-own-generator": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm())),
    "svm-randperm-batches": ("q3a-svm-table-tests", lambda: svm_namespace(train_svm_randperm, layout=_other_layout)),
    "svm-float64-sample-variance": (
        "q3a-svm-table-tests",
        lambda: svm_namespace(train_svm_float64, spread=statistics.variance),
    ),
    "momentum-in-place": ("q4a-momentum-step-tests", lambda: {"momentum_step": momentum_in_place}),
    "momentum-closure-float64": ("q4a-momentum-step-tests", lambda: {"momentum_step": make_momentum_closure()}),
    "adam-callable-class-in-place": ("q4b-adam-step-tests", lambda: {"adam_step": AdamCallable()}),
    "adam-folded-step-size-scaled-eps": ("q4b-adam-step-tests", lambda: {"adam_step": adam_scaled_eps}),
    "adam-float64-step-per-parameter": ("q4b-adam-step-tests", lambda: {"adam_step": adam_float64}),
}

MUTATIONS: dict[str, tuple[str, Factory]] = {
    # Q1 (a)
    "rastrigin-A-ignored": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_a10}),
    "rastrigin-sum-over-batch": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_sum_all}),
    "rastrigin-numpy-no-grad": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_numpy}),
    "rastrigin-missing-constant": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_no_constant}),
    "rastrigin-float64-promotion": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_float64}),
    "rastrigin-in-place": ("q1a-rastrigin-tests", lambda: {"rastrigin": rastrigin_in_place}),
    # Q1 (b)
    "race-99-steps": ("q1b-rastrigin-race-tests", lambda: race_namespace(steps=99)),
    "race-adam-lr-0.1": (
        "q1b-rastrigin-race-tests",
        lambda: race_namespace(settings=RACE | {"Adam": (torch.optim.Adam, {"lr": 0.1})}),
    ),
    "race-nesterov": (
        "q1b-rastrigin-race-tests",
        lambda: race_namespace(settings=RACE | {"Momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True})}),
    ),
    "race-always-adam": (
        "q1b-rastrigin-race-tests",
        lambda: race_namespace(settings={name: (torch.optim.Adam, {"lr": 0.01}) for name in NAMES}),
    ),
    "race-wrong-function": ("q1b-rastrigin-race-tests", lambda: race_namespace(rastrigin_a10)),
    "race-no-zero-grad": ("q1b-rastrigin-race-tests", race_no_zero_grad),
    "race-lower-case-keys": (
        "q1b-rastrigin-race-tests",
        lambda: _with(race_namespace(), final_points=lambda d: {k.lower(): v for k, v in d.items()}),
    ),
    "race-points-as-lists": (
        "q1b-rastrigin-race-tests",
        lambda: _with(race_namespace(), final_points=lambda d: {k: v.tolist() for k, v in d.items()}),
    ),
    "race-losses-of-sgd-everywhere": (
        "q1b-rastrigin-race-tests",
        lambda: _with(race_namespace(), rastrigin_losses=lambda d: {k: d["SGD"] for k in d}),
    ),
    # Q2
    "hinge-broadcast-(N,N)": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_broadcast_bug}),
    "hinge-sum-not-mean": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_sum}),
    "hinge-no-margin": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_no_margin}),
    "hinge-in-place": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_in_place}),
    "hinge-detached": ("q2-hinge-loss-tests", lambda: {"hinge_loss": hinge_detached}),
    # Q3 (a): the gaps the old hidden test left open, and more
    "svm-always-adam": (
        "q3a-svm-table-tests",
        lambda: svm_namespace(make_train_svm(optimiser_for=lambda n, p, lr, d: torch.optim.Adam(p, lr=lr, weight_decay=d))),
    ),
    "svm-always-sgd": (
        "q3a-svm-table-tests",
        lambda: svm_namespace(make_train_svm(optimiser_for=lambda n, p, lr, d: torch.optim.SGD(p, lr=lr, weight_decay=d))),
    ),
    "svm-table-same-seed-every-run": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(), seed_of_run=lambda run: 0)),
    "svm-seed-ignored": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(seed_of=lambda seed: 0))),
    "svm-no-weight-decay": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(decay_of=lambda decay: 0.0))),
    "svm-weight-decay-ignored": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(decay_of=lambda decay: 1e-4))),
    "svm-lr-ignored": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(lr_of=lambda lr: 1e-2))),
    "svm-one-epoch-too-many": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(epochs_of=lambda e: e + 1))),
    "svm-whole-data-batches": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(batch_size_of=lambda n: n))),
    "svm-gradients-never-zeroed": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(zero_grad=False))),
    "svm-adamw-for-adam": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(optimiser_for=_adamw_for_adam))),
    "svm-momentum-for-sgd": (
        "q3a-svm-table-tests",
        lambda: svm_namespace(
            make_train_svm(
                optimiser_for=lambda n, p, lr, d: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=d)
                if n == "SGD"
                else torch.optim.Adam(p, lr=lr, weight_decay=d)
            )
        ),
    ),
    "svm-table-trained-on-validation": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(), split="valid")),
    "svm-table-standard-deviation": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(), spread=np.std)),
    "svm-table-percent": (
        "q3a-svm-table-tests",
        lambda: svm_namespace(make_train_svm(), layout=lambda rows: [r | {"mean_acc": 100 * r["mean_acc"]} for r in rows]),
    ),
    "svm-table-five-rows": ("q3a-svm-table-tests", lambda: svm_namespace(make_train_svm(), layout=lambda rows: rows[:5])),
    # Q4 (a): momentum_step
    **{
        f"momentum-{variant}": ("q4a-momentum-step-tests", lambda variant=variant: {"momentum_step": momentum_variant(variant)})
        for variant in ("lr_in_buffer", "dampened", "nesterov", "stale", "reset", "shared", "no_decay",
                        "global_state", "grads_in_place", "momentum_ignored")
    },
    # Q4 (b): adam_step
    **{
        f"adam-{variant}": ("q4b-adam-step-tests", lambda variant=variant: {"adam_step": adam_variant(variant)})
        for variant in ("no_bias", "next_step", "eps_inside", "eps_unscaled", "v_with_g", "shared", "reset",
                        "swapped", "adamw", "no_decay", "count_per_param", "no_sqrt", "betas_ignored", "eps_ignored")
    },
}


@functools.cache
def _namespace(kind: str, name: str) -> dict[str, Any]:
    return (CORRECT if kind == "correct" else MUTATIONS)[name][1]()


# --------------------------------------------------------------------------------------------
# The notebook itself


def test_graded_cells_and_points() -> None:
    points = {gid: c.metadata["nbgrader"].get("points", 0) for gid, c in CELLS.items() if c.metadata["nbgrader"].get("grade")}
    assert sum(points.values()) == 20
    assert {gid: points[gid] for gid in AUTOGRADED} == {
        "q1a-rastrigin-tests": 1,
        "q1b-rastrigin-race-tests": 3,
        "q2-hinge-loss-tests": 1,
        "q3a-svm-table-tests": 4,
        "q4a-momentum-step-tests": 2,
        "q4b-adam-step-tests": 3,
    }
    assert {gid: points[gid] for gid in set(points) - set(AUTOGRADED)} == {
        "q1c-rastrigin-plot": 1,
        "q1d-rastrigin-verdict": 2,
        "q3b-svm-explanation": 3,
    }
    autograded = {
        gid
        for gid, c in CELLS.items()
        if c.metadata["nbgrader"].get("grade") and not c.metadata["nbgrader"].get("solution") and c.cell_type == "code"
    }
    assert autograded == set(AUTOGRADED)
    assert all(not c.get("outputs") for c in NB.cells if c.cell_type == "code"), "commit with outputs cleared"
    assert [c.id for c in NB.cells if "nbgrader" in c.metadata] == list(CELLS), "cell ids are the grade ids"


@pytest.mark.parametrize("grade_id", sorted(AUTOGRADED))
def test_hidden_blocks_split_into_probe_and_judge(grade_id: str) -> None:
    test = LAB.hidden_test(grade_id)
    assert "def probe(" in test.probe_source and "def judge(" not in test.probe_source
    assert "def judge(" in test.judge_source and "def probe(" not in test.judge_source
    assert "autograder" not in test.probe_source, "the kernel never sees the grader's checks"


@pytest.mark.parametrize("grade_id", sorted(AUTOGRADED))
def test_reference_passes_its_own_judge(grade_id: str) -> None:
    for seed in SEEDS:
        result = verdict(grade_id, _reference_namespace(grade_id), seed)
        assert result.passed, result.message


def test_visible_checks_pass_on_the_reference() -> None:
    for grade_id in AUTOGRADED:
        LAB.run_visible(grade_id, dict(_reference_namespace(grade_id)))


@pytest.mark.parametrize(("test_id", "answer_id"), sorted(AUTOGRADED.items()))
def test_release_stubs_score_zero(test_id: str, answer_id: str) -> None:
    import nbformat
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    config = Config()
    config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    cell = CELLS[answer_id]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)])
    nb, _ = ClearSolutions(config=config).preprocess(nb, {})
    namespace = _base_namespace() | {"budget": lambda full, fast: fast}
    if test_id == "q3a-svm-table-tests":
        namespace = _svm_data(namespace)
    try:
        exec(nb.cells[0].source, namespace)  # noqa: S102
    except NotImplementedError:
        pass
    assert not verdict(test_id, namespace, 0).passed


# --------------------------------------------------------------------------------------------
# The lists


def test_the_lists_are_long_enough() -> None:
    assert len(MUTATIONS) >= 8 and len(CORRECT) >= 3
    for grade_id in AUTOGRADED:
        assert sum(gid == grade_id for gid, _ in CORRECT.values()) >= 2, grade_id
        assert sum(gid == grade_id for gid, _ in MUTATIONS.values()) >= 3, grade_id


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_but_different_passes(name: str) -> None:
    grade_id, _ = CORRECT[name]
    for seed in SEEDS:
        result = verdict(grade_id, _namespace("correct", name), seed)
        assert result.passed, f"{name} (seed {seed}): {result.message}"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_fails(name: str) -> None:
    grade_id, _ = MUTATIONS[name]
    for seed in SEEDS:
        result = verdict(grade_id, _namespace("mutation", name), seed)
        assert not result.passed, f"{name} earned the points of {grade_id} (seed {seed})"
        assert result.message and "could not be checked" not in result.message, result.message


# Messages that name the mistake, where the judge can recognise it.
DIAGNOSES = {
    "rastrigin-A-ignored": "use the argument A",
    "rastrigin-missing-constant": "constant term A·d is missing",
    "rastrigin-float64-promotion": "keep the points' dtype",
    "rastrigin-in-place": "in place",
    "rastrigin-numpy-no-grad": "does not require grad",
    "race-99-steps": "after 99 iterations",
    "race-always-adam": "is where the Adam run ends",
    "hinge-broadcast-(N,N)": "broadcasts to (N, N)",
    "hinge-sum-not-mean": "take the mean",
    "hinge-no-margin": "margin 1 is missing",
    "hinge-in-place": "in place",
    "svm-always-adam": "trained with Adam, not SGD",
    "svm-always-sgd": "trained with SGD, not Adam",
    "svm-no-weight-decay": "no weight decay",
    "svm-weight-decay-ignored": "weight_decay argument is ignored",
    "svm-lr-ignored": "lr argument is ignored",
    "svm-one-epoch-too-many": "exactly num_epochs epochs",
    "svm-whole-data-batches": "batches of 25",
    "svm-seed-ignored": "same start for different seeds",
    "svm-table-same-seed-every-run": "same seed",
    "svm-table-standard-deviation": "standard deviation",
    "svm-table-percent": "not percentages",
    "momentum-lr_in_buffer": "learning rate inside the velocity",
    "momentum-dampened": "running average",
    "momentum-nesterov": "Nesterov",
    "momentum-stale": "update b first",
    "momentum-reset": "not kept between steps",
    "momentum-shared": "share one momentum buffer",
    "momentum-no_decay": "weight_decay is ignored",
    "momentum-global_state": "fresh, empty state",
    "momentum-grads_in_place": "changed the tensors in grads",
    "momentum-momentum_ignored": "momentum argument is ignored",
    "adam-no_bias": "bias correction is missing",
    "adam-next_step": "one too high",
    "adam-eps_inside": "eps is inside the square root",
    "adam-eps_unscaled": "unscaled epsilon",
    "adam-v_with_g": "running mean of g squared",
    "adam-shared": "share one m and v",
    "adam-reset": "not kept between steps",
    "adam-swapped": "swapped",
    "adam-adamw": "AdamW",
    "adam-no_decay": "weight_decay is ignored",
    "adam-count_per_param": "once per parameter",
    "adam-no_sqrt": "not by its square root",
    "adam-betas_ignored": "betas argument is ignored",
    "adam-eps_ignored": "eps argument is ignored",
}


@pytest.mark.parametrize("name", sorted(DIAGNOSES))
def test_the_judge_names_the_mistake(name: str) -> None:
    grade_id, _ = MUTATIONS[name]
    result = verdict(grade_id, _namespace("mutation", name), 0)
    assert DIAGNOSES[name] in result.message, result.message


# --------------------------------------------------------------------------------------------
# The stochastic question (q3a trains models): margins that hold for every seed


@pytest.mark.slow
def test_svm_reference_and_a_different_answer_pass_under_20_seeds() -> None:
    other = _namespace("correct", "svm-randperm-batches")
    for seed in STOCHASTIC_SEEDS:
        record = _reference_record("q3a-svm-table-tests", seed)
        assert LAB.passes("q3a-svm-table-tests", _reference_namespace("q3a-svm-table-tests"), record, seed), seed
        result = LAB.verdict("q3a-svm-table-tests", other, record, seed)
        assert result.passed, f"seed {seed}: {result.message}"


def test_svm_table_in_fast_mode_is_good_enough() -> None:
    """The notebook's own answer cell in fast mode: the best combination beats 0.75."""
    namespace = _svm_data(LAB.reference("train-epoch", "q2-hinge-loss") | {"budget": lambda full, fast: fast})
    exec(CELLS["q3a-svm-table"].source, namespace)  # noqa: S102
    assert max(row["mean_acc"] for row in namespace["svm_results"]) >= 0.75


# --------------------------------------------------------------------------------------------
# Question 4 beyond the judge: the reference is torch.optim, and the public checks bite


STEP_SETTINGS = [
    (torch.optim.SGD, "momentum_step", {"momentum": 0.9}, [0.1] * 7),
    (torch.optim.SGD, "momentum_step", {"momentum": 0.0}, [0.1] * 7),
    (torch.optim.SGD, "momentum_step", {"momentum": 0.5, "weight_decay": 0.2}, [0.05] * 7),
    (torch.optim.SGD, "momentum_step", {"momentum": 0.9}, [0.1, 0.1, 0.05, 0.05, 0.01, 0.3, 0.3]),
    (torch.optim.Adam, "adam_step", {}, [0.01] * 7),
    (torch.optim.Adam, "adam_step", {"betas": (0.8, 0.99), "eps": 1e-6}, [0.1] * 7),
    (torch.optim.Adam, "adam_step", {"betas": (0.5, 0.9), "eps": 0.1, "weight_decay": 0.3}, [0.03] * 7),
    (torch.optim.Adam, "adam_step", {"betas": (0.9, 0.999)}, [0.01, 0.01, 0.1, 0.1, 0.001, 0.001, 0.05]),
]


@pytest.mark.parametrize(("cls", "function", "settings", "lrs"), STEP_SETTINGS)
def test_reference_step_functions_take_torch_optims_steps(cls, function: str, settings: dict, lrs: list) -> None:
    namespace = _with_q4_helpers(LAB.reference("q4a-momentum-step", "q4b-adam-step"))
    for scale in (1.0, 0.05):
        init, grads = namespace["random_problem"](3, shapes=((5,), (2, 3), ()), steps=len(lrs), scale=scale)
        mine = namespace["step_function_path"](namespace[function], init, grads, lrs, **settings)
        theirs = namespace["torch_optimiser_path"](lambda ps: cls(ps, lr=lrs[0], **settings), init, grads, lrs)
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


def test_reference_step_functions_race_like_torch_through_step_optimizer() -> None:
    """The notebook's StepOptimizer with the reference's step functions, against torch.optim, on Rastrigin."""
    namespace = _with_q4_helpers(LAB.reference("q1a-rastrigin", "q4a-momentum-step", "q4b-adam-step"))
    exec(LAB.definition("run_optimiser"), namespace)  # noqa: S102
    exec(LAB.definition("StepOptimizer"), namespace)  # noqa: S102
    run, rastrigin, StepOptimizer = namespace["run_optimiser"], namespace["rastrigin"], namespace["StepOptimizer"]
    pairs = [
        (lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
         lambda ps: StepOptimizer(ps, namespace["momentum_step"], lr=0.01, momentum=0.9)),
        (lambda ps: torch.optim.Adam(ps, lr=0.01), lambda ps: StepOptimizer(ps, namespace["adam_step"], lr=0.01)),
        (lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.8, 0.99), weight_decay=0.1),
         lambda ps: StepOptimizer(ps, namespace["adam_step"], lr=0.1, betas=(0.8, 0.99), weight_decay=0.1)),
    ]
    for make_torch, make_mine in pairs:
        torch.testing.assert_close(run(rastrigin, [5.0, 4.0], make_mine, 100)[0],
                                   run(rastrigin, [5.0, 4.0], make_torch, 100)[0], rtol=1e-4, atol=1e-4)


def test_step_optimizer_follows_a_scheduler() -> None:
    namespace = _with_q4_helpers(LAB.reference("q4a-momentum-step"))
    exec(LAB.definition("StepOptimizer"), namespace)  # noqa: S102
    paths = []
    for make in (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                 lambda ps: namespace["StepOptimizer"](ps, namespace["momentum_step"], lr=0.1, momentum=0.9)):
        p = torch.tensor([1.0, -2.0], requires_grad=True)
        optimiser = make([p])
        scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=2, gamma=0.3)
        path = []
        for _ in range(8):
            optimiser.zero_grad()
            (p**2).sum().backward()
            optimiser.step()
            scheduler.step()
            path.append(p.detach().clone())
        paths.append(torch.stack(path))
    torch.testing.assert_close(paths[0], paths[1])


# The public checks of each graded question reject its obvious wrong answers.
VISIBLE_REJECTS = [
    "rastrigin-missing-constant",
    "rastrigin-sum-over-batch",
    "rastrigin-A-ignored",
    "race-99-steps",
    "race-always-adam",
    "hinge-sum-not-mean",
    "hinge-broadcast-(N,N)",
    "hinge-no-margin",
    "svm-table-percent",
    "svm-table-five-rows",
    "momentum-lr_in_buffer",
    "momentum-dampened",
    "momentum-nesterov",
    "momentum-reset",
    "momentum-no_decay",
    "momentum-stale",
    "adam-no_bias",
    "adam-next_step",
    "adam-eps_inside",
    "adam-eps_unscaled",
    "adam-swapped",
    "adam-adamw",
    "adam-reset",
]


@pytest.mark.parametrize("name", VISIBLE_REJECTS)
def test_visible_checks_reject_obvious_wrong_answers(name: str) -> None:
    from course_utils import CheckFailed

    grade_id, _ = MUTATIONS[name]
    namespace = _base_namespace() | dict(_namespace("mutation", name))
    if grade_id == "q1b-rastrigin-race-tests":
        namespace["rastrigin"] = rastrigin_explicit
    if grade_id.startswith("q4"):
        _with_q4_helpers(namespace)
    with pytest.raises((AssertionError, CheckFailed)):
        LAB.run_visible(grade_id, namespace)


def test_every_graded_question_has_a_rejecting_visible_check() -> None:
    assert {MUTATIONS[name][0] for name in VISIBLE_REJECTS} == set(AUTOGRADED)


# --------------------------------------------------------------------------------------------
# The lab's frame: timing line, concept figure, own-optimiser race, self-checks, what next


def _code_cell(cell_id: str) -> str:
    return next(c.source for c in NB.cells if c.id == cell_id)


def test_own_race_exercise_passes_on_the_reference_and_reports_a_wrong_momentum(capsys) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import check_close, check_shape, check_type, exercise, passed

    namespace = _with_q4_helpers(LAB.reference("q1a-rastrigin", "q4a-momentum-step", "q4b-adam-step", "own-race"))
    namespace |= {"plt": plt, "exercise": exercise, "passed": passed, "check_close": check_close,
                  "check_shape": check_shape, "check_type": check_type}
    for name in ("run_optimiser", "plot_paths", "StepOptimizer"):
        exec(LAB.definition(name), namespace)  # noqa: S102
    exec(_code_cell("own-race-check"), namespace)  # noqa: S102
    assert "✅" in capsys.readouterr().out
    namespace["momentum_step"] = momentum_variant("dampened")
    exec(_code_cell("own-race-check"), namespace)  # noqa: S102 - reports, does not raise
    out = capsys.readouterr().out
    assert "❌ Exercise 3" in out and "My momentum" in out
    plt.close("all")


def test_summary_expects_every_checked_label_in_notebook_order() -> None:
    import re

    labels = [m.group(1) for c in NB.cells if c.cell_type == "code"
              for m in re.finditer(r'(?:exercise|question)\("([^"]+)"\)', c.source)]
    assert len(labels) == len(set(labels)) == 9
    summary_cell = NB.cells[-1]
    assert summary_cell.cell_type == "code" and summary_cell.source.startswith("summary(")
    assert re.findall(r'^        "([^"]+)",$', summary_cell.source, flags=re.MULTILINE) == labels
    for grade_id in AUTOGRADED:
        visible = LAB.hidden_test(grade_id).visible
        assert "with question(" in visible, grade_id


def test_frame_timing_concept_and_what_next() -> None:
    sources = [c.source for c in NB.cells]
    assert NB.cells[1].id == "timing" and "fast mode" in NB.cells[1].source.lower()
    assert "COURSE_FAST=1" in NB.cells[1].source
    concept = sources.index(_code_cell("momentum-concept"))
    assert "draw_momentum_ravine()" in sources[concept]
    assert "*Momentum* keeps a running sum" in sources[concept - 2]  # right where momentum is introduced
    try_next = next(i for i, c in enumerate(NB.cells) if c.source.startswith("## What to try next"))
    assert try_next == len(NB.cells) - 2
    assert len(re.findall(r"^\d\. \*\*", NB.cells[try_next].source, flags=re.MULTILINE)) in range(3, 6)
    assert all("marks" not in s for s in sources), "points, never marks"
    for cell in NB.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("### Question"):
            assert re.search(r"\(\d+ points?\)", cell.source.splitlines()[0]), cell.source.splitlines()[0]


@pytest.mark.slow
@pytest.mark.parametrize("grade_id", ["q4a-momentum-step-tests", "q4b-adam-step-tests"])
def test_step_functions_written_differently_pass_under_20_seeds(grade_id: str) -> None:
    """Rounding differences between correct answers stay inside the judge's tolerance for every seed."""
    names = [name for name, (gid, _) in CORRECT.items() if gid == grade_id]
    for seed in STOCHASTIC_SEEDS:
        record = _reference_record(grade_id, seed)
        for name in names:
            result = LAB.verdict(grade_id, _namespace("correct", name), record, seed)
            assert result.passed, f"{name} (seed {seed}): {result.message}"
        lr_inside = LAB.verdict(grade_id, _namespace("mutation", "momentum-lr_in_buffer"), record, seed)
        assert grade_id != "q4a-momentum-step-tests" or not lr_inside.passed
