"""Tests for lab 05 (convolutional networks) beyond running the notebook.

Each graded test cell's probe runs over a namespace holding the notebook's imports and given
helpers plus an answer written here; its judge compares the data with the reference
solution's at the same seed (tests/lab_notebook.py: the real wire format and judge).
``MUTATIONS`` lists typical wrong answers (they must fail), ``CORRECT_BUT_DIFFERENT`` correct
answers written in other ways (they must pass). The notebook's teaching helpers get unit
tests of their own.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells
from torch import nn
from torch.utils.data import Dataset

from course_utils.concepts.convolution import conv_output_size, receptive_field


NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "lab05_cnns" / "lab05_cnns.ipynb"


def _exec(source: str, namespace: dict, name: str = "<cell>") -> None:
    """Run notebook code in `namespace` (the notebook is this repository's own source)."""
    exec(compile(source, name, "exec"), namespace)  # noqa: S102


def _cells() -> dict[str, str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {cell.get("id"): cell.source for cell in nb.cells}


CELLS = _cells()


_grade_cell = LabCells("lab05_cnns").source


def _cell_defining(name: str) -> str:
    """Source of the first cell that defines `name` (a def or a class)."""
    for source in CELLS.values():
        if f"def {name}(" in source or f"class {name}(" in source:
            return source
    raise KeyError(name)


def _base_namespace() -> dict:
    """What the notebook has defined before the problem sheet's answers: imports and given helpers."""
    ns: dict = {}
    imports = next(s for s in CELLS.values() if s.startswith("import tempfile"))
    # the imports cell, without the data loading that later cells do
    _exec(imports, ns, "<imports>")
    _exec(_cell_defining("count_parameters"), ns, "<count_parameters>")
    _exec(_grade_cell("line-helpers"), ns, "<line-helpers>")
    return ns


def _reference(grade_id: str, name: str, ns: dict | None = None):
    """The reference answer `name` from the notebook's solution cell `grade_id`."""
    ns = _base_namespace() if ns is None else ns
    _exec(_grade_cell(grade_id), ns, f"<{grade_id}>")
    return ns[name]


# ---------------------------------------------------------------- question 1: the dataset


def _draw(offset_plus_index: int, ns: dict) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(offset_plus_index)
    m, c = ns["sample_line"](g)
    return ns["render_scatter"](m, c, g), torch.tensor([m, c])


def _dataset_cached():
    ns = _base_namespace()

    class CachedLines(Dataset):
        """Renders everything up front (another layout; same items)."""

        def __init__(self, n_items, offset):
            self.items = [_draw(offset + i, ns) for i in range(n_items)]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, index):
            image, target = self.items[index]
            return image.clone(), target.float()

    return CachedLines


def _dataset_functional():
    ns = _base_namespace()

    class FunctionalLines(Dataset):
        def __init__(self, n_items: int, offset: int = 0):
            self.size, self.start = n_items, offset

        def __len__(self):
            return self.size

        def __getitem__(self, index):
            g = torch.Generator()
            g.manual_seed(int(self.start) + int(index))
            slope, intercept = ns["sample_line"](g)
            picture = ns["render_scatter"](slope, intercept, g).to(torch.float32)
            return picture, torch.as_tensor((slope, intercept), dtype=torch.float32)

    return FunctionalLines


def _dataset_ignores_offset():
    ns = _base_namespace()

    class NoOffset(Dataset):
        def __init__(self, n_items, offset):
            self.n = n_items

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            return _draw(index, ns)

    return NoOffset


def _dataset_shared_generator():
    ns = _base_namespace()

    class Shared(Dataset):
        def __init__(self, n_items, offset):
            self.n, self.g = n_items, torch.Generator().manual_seed(offset)

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            m, c = ns["sample_line"](self.g)
            return ns["render_scatter"](m, c, self.g), torch.tensor([m, c])

    return Shared


def _dataset_wrong_target():
    ns = _base_namespace()

    class SwappedTarget(Dataset):
        def __init__(self, n_items, offset):
            self.n, self.offset = n_items, offset

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            image, target = _draw(self.offset + index, ns)
            return image, target.flip(0)

    return SwappedTarget


# ---------------------------------------------------------------- question 2: model 1


class SequentialLineCNN(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 48, (3, 3), padding=(1, 1)),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(76800, 128),
            nn.ReLU(),
            nn.Linear(128, 2),
        )


class FunctionalLineCNN(nn.Module):
    def __init__(self):
        super().__init__()
        # registered before the body: the order of registration must not matter
        self.head = nn.ModuleList([nn.Linear(128, 2)])
        self.body = nn.Conv2d(1, 48, kernel_size=3, padding="same")
        self.hidden = nn.Linear(48 * 40 * 40, 128)

    def forward(self, images):
        h = torch.clamp(self.body(images), min=0).reshape(images.shape[0], -1)
        return self.head[0](torch.relu(self.hidden(h)))


class NoReluLineCNN(SequentialLineCNN):
    def __init__(self):
        nn.Sequential.__init__(
            self,
            nn.Conv2d(1, 48, 3, padding=1),
            nn.Flatten(),
            nn.Linear(76800, 128),
            nn.ReLU(),
            nn.Linear(128, 2),
        )


class UnpaddedLineCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 48, 3)
        self.fc1, self.fc2 = nn.Linear(48 * 38 * 38, 128), nn.Linear(128, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(F.relu(self.conv(x)).flatten(1))))


# ---------------------------------------------------------------- question 3: model 2


class AdaptivePooledCNN(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 48, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(48, 48, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.regressor = nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 2))

    def forward(self, x):
        return self.regressor(self.features(x))


class KernelPooledCNN(nn.Module):
    def __init__(self, in_channels: int = 1):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(in_channels, 48, 3, 1, 1), nn.Conv2d(48, 48, 3, 1, 1)
        self.l1, self.l2 = nn.Linear(48, 128), nn.Linear(128, 2)

    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x))))
        h = F.max_pool2d(h, kernel_size=h.shape[-2:]).squeeze(-1).squeeze(-1)
        return self.l2(F.relu(self.l1(h)))


class AveragePooledCNN(KernelPooledCNN):
    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x)))).mean(dim=(2, 3))
        return self.l2(F.relu(self.l1(h)))


class FixedSizePooledCNN(KernelPooledCNN):
    def forward(self, x):
        h = F.max_pool2d(F.relu(self.c2(F.relu(self.c1(x)))), 40).flatten(1)
        return self.l2(F.relu(self.l1(h)))


# ---------------------------------------------------------------- question 4: coordinate channels


def coords_meshgrid(x):
    b, _, h, w = x.shape
    ii, jj = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    grids = torch.stack([jj / w - 0.5, ii / h - 0.5]).to(x.dtype)
    return torch.cat([x, grids.unsqueeze(0).repeat(b, 1, 1, 1)], dim=1)


def coords_linspace(x):
    b, _, h, w = x.shape
    xs = torch.linspace(-0.5, 0.5 - 1 / w, w, dtype=x.dtype)
    ys = torch.linspace(-0.5, 0.5 - 1 / h, h, dtype=x.dtype)
    out = x.new_zeros(b, x.shape[1] + 2, h, w)
    out[:, :-2] = x
    out[:, -2] = xs
    out[:, -1] = ys[:, None]
    return out


def coords_inclusive(x):  # wrong: the grid ends at +0.5
    b, _, h, w = x.shape
    xs, ys = (
        torch.linspace(-0.5, 0.5, w, dtype=x.dtype),
        torch.linspace(-0.5, 0.5, h, dtype=x.dtype),
    )
    return torch.cat([x, xs.expand(b, 1, h, w), ys[:, None].expand(b, 1, h, w)], dim=1)


def coords_swapped(x):  # wrong: y channel first
    return torch.cat(
        [coords_meshgrid(x)[:, :-2], coords_meshgrid(x)[:, -1:], coords_meshgrid(x)[:, -2:-1]], 1
    )


def coords_hardcoded(x):  # wrong: always 40 x 40 grids
    b = x.shape[0]
    g = torch.arange(40, dtype=x.dtype) / 40 - 0.5
    return torch.cat([x, g.expand(b, 1, 40, 40), g[:, None].expand(b, 1, 40, 40)], dim=1)


# ---------------------------------------------------------------- question 5: model 3


class StandaloneCoordCNN(nn.Module):
    """Written without the model-2 class or the helper: coordinates built in forward."""

    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, 48, 3, padding=1), nn.ReLU(), nn.Conv2d(48, 48, 3, padding=1), nn.ReLU()
        )
        self.mlp = nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 2))

    def forward(self, x):
        return self.mlp(self.convs(coords_linspace(x)).flatten(2).max(dim=2).values)


class HelperCoordCNN(AdaptivePooledCNN):
    def __init__(self):
        super().__init__()
        self.features[0] = nn.Conv2d(3, 48, 3, padding=1)

    def forward(self, x):
        return super().forward(coords_meshgrid(x))


class CoordsFirstCNN(HelperCoordCNN):  # wrong: coordinate channels before the image
    def forward(self, x):
        with_coords = coords_meshgrid(x)
        return AdaptivePooledCNN.forward(
            self, torch.cat([with_coords[:, 1:], with_coords[:, :1]], 1)
        )


class UnitRangeCoordCNN(HelperCoordCNN):  # wrong: coordinates in [0, 1)
    def forward(self, x):
        with_coords = coords_meshgrid(x)
        with_coords[:, 1:] += 0.5
        return AdaptivePooledCNN.forward(self, with_coords)


# ---------------------------------------------------------------- question 6: evaluation and training


def evaluate_concatenated(model, loader):
    was = model.training
    model.eval()
    with torch.no_grad():
        preds, targets = zip(*((model(x), y) for x, y in loader))
    model.train(was)
    return float(F.mse_loss(torch.cat(preds), torch.cat(targets)))


def evaluate_running_mean(model, loader):
    model.train(False)
    mean, seen = 0.0, 0
    for x, y in loader:
        with torch.inference_mode():
            batch = ((model(x) - y) ** 2).mean().item()
        seen += len(x)
        mean += (batch - mean) * len(x) / seen
    return mean


def evaluate_batch_average(model, loader):  # wrong: unweighted mean of batch means
    model.eval()
    with torch.no_grad():
        return float(np.mean([F.mse_loss(model(x), y).item() for x, y in loader]))


def evaluate_in_train_mode(model, loader):  # wrong: dropout stays on
    with torch.no_grad():
        se = sum(F.mse_loss(model(x), y, reduction="sum").item() for x, y in loader)
    return se / sum(y.numel() for _, y in loader)


def _evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        return float(torch.cat([(model(x) - y).flatten() ** 2 for x, y in loader]).mean())


def train_sum_reduction(model, loader, epochs, lr=1e-3, val_loader=None):
    opt = torch.optim.Adam(model.parameters(), lr)
    history = {"loss": [], **({"val_loss": []} if val_loader is not None else {})}
    for _ in range(epochs):
        model.train()
        sq, n = 0.0, 0
        for x, y in loader:
            loss_sum = ((model(x) - y) ** 2).sum()
            opt.zero_grad()
            (loss_sum / y.numel()).backward()
            opt.step()
            sq, n = sq + loss_sum.item(), n + y.numel()
        history["loss"].append(sq / n)
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def train_with_torchbearer(model, loader, epochs, lr=1e-3, val_loader=None):
    from torchbearer import Trial

    trial = Trial(
        model,
        torch.optim.Adam(model.parameters(), lr=lr),
        nn.MSELoss(),
        metrics=["loss"],
        verbose=0,
    )
    trial.with_generators(train_generator=loader, val_generator=val_loader)
    epochs_seen = trial.run(epochs=epochs)
    keys = ["loss", "val_loss"] if val_loader is not None else ["loss"]
    return {k: [float(e[k]) for e in epochs_seen] for k in keys}


def train_last_batch_loss(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: reports the last batch's loss, not the epoch's mean."""
    opt = torch.optim.Adam(model.parameters(), lr)
    history = {"loss": [], "val_loss": []}
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            loss = F.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        history["loss"].append(loss.item())
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def train_without_train_mode(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: never switches the model to training mode."""
    model_train = model.train
    model.train = lambda mode=True: model  # the model stays in whatever mode it was in
    try:
        return train_sum_reduction(model, loader, epochs, lr, val_loader)
    finally:
        model.train = model_train


def train_new_optimiser_each_epoch(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: a new Adam optimiser every epoch forgets its running averages."""
    history = {"loss": [], "val_loss": []}
    for _ in range(epochs):
        one = train_sum_reduction(model, loader, 1, lr, val_loader)
        for key, values in one.items():
            history[key] += values
    return history


# ---------------------------------------------------------------- more answers, right and wrong


def _dataset_off_by_one():
    ns = _base_namespace()

    class OffByOne(Dataset):
        def __init__(self, n_items, offset):
            self.n, self.offset = n_items, offset

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            return _draw(self.offset + index + 1, ns)

    return OffByOne


def _dataset_float64_target():
    ns = _base_namespace()

    class Float64(Dataset):
        def __init__(self, n_items, offset):
            self.n, self.offset = n_items, offset

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            image, target = _draw(self.offset + index, ns)
            return image, target.double()

    return Float64


class NoBiasLineCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 48, 3, padding=1, bias=False)
        self.fc1, self.fc2 = nn.Linear(76800, 128), nn.Linear(128, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(F.relu(self.conv(x)).flatten(1))))


class DetachedLineCNN(FunctionalLineCNN):
    """Wrong: the convolution's output is detached, so the convolution never learns."""

    def forward(self, images):
        h = torch.relu(self.body(images)).detach().reshape(images.shape[0], -1)
        return self.head[0](torch.relu(self.hidden(h)))


class IgnoresInChannelsCNN(KernelPooledCNN):
    def __init__(self, in_channels: int = 1):
        super().__init__(1)


class FinalReluPooledCNN(KernelPooledCNN):
    """Wrong: a ReLU on the output, so negative slopes cannot be predicted."""

    def forward(self, x):
        return F.relu(super().forward(x))


def coords_float32_always(x):  # wrong: a float64 input comes back as float32
    return coords_meshgrid(x.float())


def coords_in_place(x):  # wrong: writes the grid into the caller's tensor too
    b, _, h, w = x.shape
    x[:] = x  # harmless line; the grid is added in place below
    x.add_(0)
    out = coords_meshgrid(x)
    x.mul_(1.0).add_(out[:, -1:, :, :].mean())
    return out


def coords_unit_range(x):  # wrong: coordinates in [0, 1)
    out = coords_meshgrid(x)
    out[:, -2:] += 0.5
    return out


def coords_numpy(x):
    """Correct too: built with NumPy broadcasting, in float64, then cast back to the input's dtype."""
    b, c, h, w = x.shape
    jj = np.broadcast_to(np.arange(w) / w - 0.5, (h, w))
    ii = np.broadcast_to((np.arange(h) / h - 0.5)[:, None], (h, w))
    grids = torch.from_numpy(np.stack([jj, ii])).to(x.dtype)
    return torch.cat([x, grids.expand(b, 2, h, w)], dim=1)


class TwoForwardsCoordCNN(HelperCoordCNN):  # wrong: the first convolution runs twice per forward pass
    def forward(self, x):
        self.features[0](coords_meshgrid(x))
        return super().forward(x)


def evaluate_float64(model, loader):
    """Correct too: squared errors accumulated in float64, batch by batch."""
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros((), dtype=torch.float64)
    count = 0
    with torch.no_grad():
        for images, targets in loader:
            diff = model(images.to(device)).double() - targets.to(device).double()
            total += (diff**2).sum().cpu()
            count += diff.numel()
    return float(total / count)


def evaluate_sums(model, loader):  # wrong: the total squared error, not its mean
    model.eval()
    with torch.no_grad():
        return float(sum(F.mse_loss(model(x), y, reduction="sum").item() for x, y in loader))


def evaluate_per_example(model, loader):  # wrong: summed over the two outputs, averaged over examples
    model.eval()
    with torch.no_grad():
        total = sum(((model(x) - y) ** 2).sum().item() for x, y in loader)
    return total / len(loader.dataset)


def train_ignores_lr(model, loader, epochs, lr=1e-3, val_loader=None):
    return train_sum_reduction(model, loader, epochs, 1e-3, val_loader)


def train_off_by_one_epochs(model, loader, epochs, lr=1e-3, val_loader=None):
    return train_sum_reduction(model, loader, epochs - 1, lr, val_loader) if epochs > 1 else train_sum_reduction(model, loader, 1, lr, val_loader)


def train_never_zeroes_gradients(model, loader, epochs, lr=1e-3, val_loader=None):
    opt = torch.optim.Adam(model.parameters(), lr)
    history = {"loss": [], **({"val_loss": []} if val_loader is not None else {})}
    for _ in range(epochs):
        model.train()
        sq, n = 0.0, 0
        for x, y in loader:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            sq, n = sq + loss.item() * len(y), n + len(y)
        history["loss"].append(sq / n)
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def train_sgd(model, loader, epochs, lr=1e-3, val_loader=None):  # wrong: SGD, not Adam
    opt = torch.optim.SGD(model.parameters(), lr)
    history = {"loss": [], **({"val_loss": []} if val_loader is not None else {})}
    for _ in range(epochs):
        model.train()
        sq, n = 0.0, 0
        for x, y in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            sq, n = sq + loss.item() * len(y), n + len(y)
        history["loss"].append(sq / n)
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def train_loss_after_epoch(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: reports the loss measured after the epoch, not during it."""
    history = train_sum_reduction(model, loader, epochs, lr, val_loader)
    history["loss"][-1] = _evaluate(model, loader)
    return history


def train_manual_adam(model, loader, epochs, lr=1e-3, val_loader=None):
    """Correct too: Adam written out by hand (same defaults), loss weighted by batch size."""
    params = list(model.parameters())
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    step = 0
    history = {"loss": []}
    if val_loader is not None:
        history["val_loss"] = []
    for _ in range(epochs):
        model.train()
        weighted, count = 0.0, 0
        for x, y in loader:
            for p in params:
                p.grad = None
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            step += 1
            with torch.no_grad():
                for p, a, v in zip(params, m1, m2):
                    a.mul_(0.9).add_(p.grad, alpha=0.1)
                    v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                    p -= lr * (a / (1 - 0.9**step)) / ((v / (1 - 0.999**step)).sqrt() + 1e-8)
            weighted += loss.item() * len(y)
            count += len(y)
        history["loss"].append(weighted / count)
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def _experiment(which: str = "test", tweak=None) -> dict:
    """Answers to Q7: three (untrained, for speed) models and their MSE on a split; `tweak` spoils them."""
    ns = _base_namespace()
    dataset = _reference("q1-dataset", "LineScatterDataset", ns)
    offset = {"test": ns["TEST_OFFSET"], "val": ns["VAL_OFFSET"], "train": ns["TRAIN_OFFSET"]}[which]
    split = dataset(32, offset)  # the fast-mode test split (COURSE_FAST=1 in these tests)
    images = torch.stack([split[i][0] for i in range(len(split))])
    targets = torch.stack([split[i][1] for i in range(len(split))])
    torch.manual_seed(0)
    models = {"model1": SequentialLineCNN(), "model2": AdaptivePooledCNN(), "model3": StandaloneCoordCNN()}
    with torch.no_grad():
        losses = {k: F.mse_loss(m.eval()(images), targets).item() for k, m in models.items()}
    answers = {"test_data": dataset(32, ns["TEST_OFFSET"]), "trained_models": models, "test_losses": losses}
    if tweak is not None:
        tweak(answers)
    ns.update(answers)
    return ns


def _swap_models(answers):
    models = answers["trained_models"]
    models["model2"], models["model3"] = models["model3"], models["model2"]


def _swap_losses(answers):
    losses = answers["test_losses"]
    losses["model1"], losses["model2"] = losses["model2"], losses["model1"]


def _losses_as_tensors(answers):
    answers["test_losses"] = {k: torch.tensor(v) for k, v in answers["test_losses"].items()}


def _losses_as_float64_numpy(answers):
    """Correct too: plain floats that went through NumPy float64."""
    answers["test_losses"] = {k: float(np.float64(v)) for k, v in answers["test_losses"].items()}


# ---------------------------------------------------------------- question 1: output size


def size_floor(n, k, s=1, p=0, d=1):
    """Correct too: math.floor of the exact quotient."""
    return math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1


def size_by_counting(n, k, s=1, p=0, d=1):
    """Correct too: count the window's start positions."""
    span = d * (k - 1) + 1
    return len(range(0, n + 2 * p - span + 1, s))


def size_no_dilation(n, k, s=1, p=0, d=1):
    return (n + 2 * p - (k - 1) - 1) // s + 1


def size_ceil(n, k, s=1, p=0, d=1):
    return math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1


def size_padding_once(n, k, s=1, p=0, d=1):
    return (n + p - d * (k - 1) - 1) // s + 1


def size_true_division(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) / s + 1


def size_calls_helper(n, k, s=1, p=0, d=1):
    return conv_output_size(n, k, s, p, d)


def size_imports_helper(n, k, s=1, p=0, d=1):
    from course_utils.concepts import convolution

    return convolution.conv_output_size(n, k, s, p, d)


# ---------------------------------------------------------------- question 2: conv2d


def _pairs(*values):
    return [(v, v) if isinstance(v, int) else tuple(v) for v in values]


def conv_einsum(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Correct too: unfold, then einsum; the output size from the columns' count and _pair."""
    from torch.nn.modules.utils import _pair

    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    kh, kw = weight.shape[-2:]
    columns = F.unfold(x, weight.shape[-2:], dilation=dilation, padding=padding, stride=stride)
    out = torch.einsum("ok,bkl->bol", weight.flatten(1), columns)
    if bias is not None:
        out = out + bias[None, :, None]
    h = (x.shape[2] + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    return out.reshape(x.shape[0], weight.shape[0], h, -1)


def conv_loops(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Correct too (slow): an explicit loop over output positions, on a zero-padded copy."""
    (sh, sw), (ph, pw), (dh, dw) = _pairs(stride, padding, dilation)
    c_out, _, kh, kw = weight.shape
    padded = F.pad(x, (pw, pw, ph, ph))
    oh = (padded.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (padded.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = x.new_zeros(x.shape[0], c_out, oh, ow)
    for i in range(oh):
        for j in range(ow):
            window = padded[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = torch.einsum("bchw,ochw->bo", window, weight)
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


def _conv_variant(flatten="channel", bias_per="channel", use_stride=True, use_padding=True, size_dilation=True):
    def conv(x, weight, bias=None, stride=1, padding=0, dilation=1):
        (sh, sw), (ph, pw), (dh, dw) = _pairs(stride, padding, dilation)
        c_out, _, kh, kw = weight.shape
        st, pd = ((sh, sw) if use_stride else (1, 1)), ((ph, pw) if use_padding else (0, 0))
        columns = F.unfold(x, (kh, kw), dilation=(dh, dw), padding=pd, stride=st)
        if flatten == "channel":
            rows = weight.reshape(c_out, -1)
        elif flatten == "kernel":
            rows = weight.permute(0, 2, 3, 1).reshape(c_out, -1)
        else:  # flipped kernel
            rows = weight.flip(-2, -1).reshape(c_out, -1)
        out = rows @ columns
        eh, ew = (dh, dw) if size_dilation else (1, 1)
        oh = (x.shape[2] + 2 * ph - eh * (kh - 1) - 1) // sh + 1
        ow = (x.shape[3] + 2 * pw - ew * (kw - 1) - 1) // sw + 1
        out = out.view(x.shape[0], c_out, oh, ow)
        if bias is not None:
            out = out + (bias.view(1, -1, 1, 1) if bias_per == "channel" else bias.view(-1, 1))
        return out

    return conv


def conv_calls_pytorch(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return F.conv2d(x, weight, bias, stride, padding, dilation)


def conv_through_module(x, weight, bias=None, stride=1, padding=0, dilation=1):
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[-2:]), stride, padding, dilation,
                      bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer.to(x.dtype)(x)


# ---------------------------------------------------------------- question 3: receptive field


def field_backwards(layers):
    """Correct too: from the output pixel back to the input, r <- s (r - 1) + d (k - 1) + 1."""
    r = 1
    for layer in reversed(list(layers)):
        k, s, *rest = layer
        r = s * (r - 1) + (rest[0] if rest else 1) * (k - 1) + 1
    return r


def field_numpy(layers):
    """Correct too: NumPy's cumulative product of the earlier strides."""
    layers = [tuple(layer) + (1,) * (3 - len(layer)) for layer in layers]
    if not layers:
        return 1
    k, s, d = (np.array(v) for v in zip(*layers))
    jumps = np.concatenate([[1], np.cumprod(s)[:-1]])
    return int(1 + (d * (k - 1) * jumps).sum())


def _field(own_stride=False, dilation=True, strides=True, start=1):
    def field_size(layers):
        field, jump = start, 1
        for layer in layers:
            k, s = layer[0], layer[1]
            d = layer[2] if len(layer) > 2 and dilation else 1
            if own_stride and strides:
                jump *= s
            field += d * (k - 1) * jump
            if not own_stride and strides:
                jump *= s
        return field

    return field_size


def field_calls_helper(layers):
    return receptive_field(layers)


# ---------------------------------------------------------------- question 4: residual block


class SequentialResidual(nn.Module):
    """Correct too: the body as nn.Sequential, padding='same', torch.relu on the sum."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding="same", bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding="same", bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        return torch.relu(self.body(x) + x)


class NormsFirstResidual(nn.Module):
    """Correct too: the norms registered before the convolutions, clamp as ReLU, an in-place add on h."""

    def __init__(self, channels):
        super().__init__()
        self.norms = nn.ModuleList([nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)])
        self.convs = nn.ModuleList([nn.Conv2d(channels, channels, (3, 3), 1, 1, bias=False) for _ in range(2)])

    def forward(self, x):
        h = self.norms[0](self.convs[0](x)).clamp(min=0)
        h = self.norms[1](self.convs[1](h))
        h += x
        return h.relu_()


class _Residual(SequentialResidual):
    def __init__(self, channels, mistake):
        super().__init__(channels)
        self.mistake = mistake
        if mistake == "no batch norm":
            self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(channels, channels, 3, padding=1))
        if mistake == "relu after the first batch norm missing":
            del self.body[2]
        if mistake == "relu before the batch norm":
            self.body[1], self.body[2] = self.body[2], self.body[1]

    def forward(self, x):
        h = self.body(x)
        if self.mistake == "no skip":
            return torch.relu(h)
        if self.mistake == "relu before the addition":
            return torch.relu(h) + x
        if self.mistake == "x changed in place":
            x += h
            return torch.relu(x)
        return torch.relu(h + x)


def _residual(mistake):
    return _value(lambda channels: _Residual(channels, mistake))


# ---------------------------------------------------------------- the lists, as data

Q1, Q2, Q3, Q4, Q5 = "q1-dataset-tests", "q2-model1-tests", "q3-model2-tests", "q4-coords-tests", "q5-model3-tests"
Q6E, Q6T, Q7 = "q6-evaluate-tests", "q6-train-tests", "q7-experiment-tests"
QS, QC, QR, QB = "output-size-tests", "conv2d-tests", "receptive-field-size-tests", "residual-block-tests"
ANSWER_CELLS = {
    QS: ("output-size",), QC: ("conv2d",), QR: ("receptive-field-size",), QB: ("residual-block",),
    Q1: ("q1-dataset",), Q2: ("q2-model1",), Q3: ("q3-model2",), Q4: ("q4-coords",),
    Q5: ("q4-coords", "q3-model2", "q5-model3"), Q6E: ("q6-evaluate",), Q6T: ("q6-evaluate", "q6-train"),
}
NAMES = {QS: "output_size", QC: "conv2d", QR: "receptive_field_size", QB: "ResidualBlock", Q1: "LineScatterDataset", Q2: "LineCNN", Q3: "PooledLineCNN", Q4: "add_coord_channels",
         Q5: "CoordLineCNN", Q6E: "evaluate_mse", Q6T: "train_model"}


def _value(value):
    return lambda: value


# name -> (grade id, a function returning the answer; for Q7 a function returning the whole namespace)
MUTATIONS = {
    "output size: dilation ignored": (QS, _value(size_no_dilation)),
    "output size: rounds up": (QS, _value(size_ceil)),
    "output size: padding on one side only": (QS, _value(size_padding_once)),
    "output size: true division (a float)": (QS, _value(size_true_division)),
    "output size: calls the course's conv_output_size": (QS, _value(size_calls_helper)),
    "output size: imports the course's helper inside": (QS, _value(size_imports_helper)),
    "conv2d: output size without dilation": (QC, lambda: _conv_variant(size_dilation=False)),
    "conv2d: weight flattened kernel-position first": (QC, lambda: _conv_variant(flatten="kernel")),
    "conv2d: bias added per row": (QC, lambda: _conv_variant(bias_per="row")),
    "conv2d: stride ignored": (QC, lambda: _conv_variant(use_stride=False)),
    "conv2d: padding ignored": (QC, lambda: _conv_variant(use_padding=False)),
    "conv2d: kernel flipped (true convolution)": (QC, lambda: _conv_variant(flatten="flipped")),
    "conv2d: calls F.conv2d": (QC, _value(conv_calls_pytorch)),
    "conv2d: runs nn.Conv2d": (QC, _value(conv_through_module)),
    "receptive field: own stride counted": (QR, lambda: _field(own_stride=True)),
    "receptive field: dilation ignored": (QR, lambda: _field(dilation=False)),
    "receptive field: strides ignored": (QR, lambda: _field(strides=False)),
    "receptive field: starts at 0": (QR, lambda: _field(start=0)),
    "receptive field: calls the course's receptive_field": (QR, _value(field_calls_helper)),
    "residual: no skip": (QB, _residual("no skip")),
    "residual: ReLU before the addition": (QB, _residual("relu before the addition")),
    "residual: no batch norm (convolutions with bias)": (QB, _residual("no batch norm")),
    "residual: middle ReLU missing": (QB, _residual("relu after the first batch norm missing")),
    "residual: ReLU before the batch norm": (QB, _residual("relu before the batch norm")),
    "residual: x changed in place": (QB, _residual("x changed in place")),
    "dataset: offset ignored": (Q1, _dataset_ignores_offset),
    "dataset: one generator shared by all items": (Q1, _dataset_shared_generator),
    "dataset: target [c, m]": (Q1, _dataset_wrong_target),
    "dataset: seeded with offset + index + 1": (Q1, _dataset_off_by_one),
    "dataset: float64 target": (Q1, _dataset_float64_target),
    "model1: no ReLU after the convolution": (Q2, _value(NoReluLineCNN)),
    "model1: convolution without padding": (Q2, _value(UnpaddedLineCNN)),
    "model1: convolution without bias": (Q2, _value(NoBiasLineCNN)),
    "model1: convolution's output detached": (Q2, _value(DetachedLineCNN)),
    "model2: average pooling": (Q3, _value(AveragePooledCNN)),
    "model2: pooling window fixed at 40": (Q3, _value(FixedSizePooledCNN)),
    "model2: in_channels ignored": (Q3, _value(IgnoresInChannelsCNN)),
    "model2: ReLU on the output": (Q3, _value(FinalReluPooledCNN)),
    "coords: grid ends at +0.5": (Q4, _value(coords_inclusive)),
    "coords: y channel first": (Q4, _value(coords_swapped)),
    "coords: always 40 x 40": (Q4, _value(coords_hardcoded)),
    "coords: float32 whatever the input": (Q4, _value(coords_float32_always)),
    "coords: input changed in place": (Q4, _value(coords_in_place)),
    "coords: range [0, 1)": (Q4, _value(coords_unit_range)),
    "model3: coordinate channels first": (Q5, _value(CoordsFirstCNN)),
    "model3: coordinates in [0, 1)": (Q5, _value(UnitRangeCoordCNN)),
    "model3: first convolution run twice": (Q5, _value(TwoForwardsCoordCNN)),
    "model3: no coordinates (model 2 with 3 channels of the image)": (Q5, _value(
        type("RepeatedImageCNN", (HelperCoordCNN,), {"forward": lambda self, x: AdaptivePooledCNN.forward(self, x.repeat(1, 3, 1, 1))}))),
    "evaluate: unweighted mean of batch means": (Q6E, _value(evaluate_batch_average)),
    "evaluate: dropout left on": (Q6E, _value(evaluate_in_train_mode)),
    "evaluate: sum instead of mean": (Q6E, _value(evaluate_sums)),
    "evaluate: summed over the two outputs": (Q6E, _value(evaluate_per_example)),
    "train: last batch's loss reported": (Q6T, _value(train_last_batch_loss)),
    "train: model.train() never called": (Q6T, _value(train_without_train_mode)),
    "train: a new optimiser every epoch": (Q6T, _value(train_new_optimiser_each_epoch)),
    "train: lr ignored": (Q6T, _value(train_ignores_lr)),
    "train: one epoch too few": (Q6T, _value(train_off_by_one_epochs)),
    "train: gradients never zeroed": (Q6T, _value(train_never_zeroes_gradients)),
    "train: SGD instead of Adam": (Q6T, _value(train_sgd)),
    "train: loss measured after the epoch": (Q6T, _value(train_loss_after_epoch)),
    "experiment: losses on the validation split": (Q7, lambda: _experiment("val")),
    "experiment: losses on the training split": (Q7, lambda: _experiment("train")),
    "experiment: models 2 and 3 swapped": (Q7, lambda: _experiment(tweak=_swap_models)),
    "experiment: losses of models 1 and 2 swapped": (Q7, lambda: _experiment(tweak=_swap_losses)),
    "experiment: losses as tensors": (Q7, lambda: _experiment(tweak=_losses_as_tensors)),
}

CORRECT_BUT_DIFFERENT = {
    "output size: math.floor": (QS, _value(size_floor)),
    "output size: counting window positions": (QS, _value(size_by_counting)),
    "conv2d: einsum and _pair": (QC, _value(conv_einsum)),
    "conv2d: loops over output positions": (QC, _value(conv_loops)),
    "conv2d: pairs handled by hand, bias added after the reshape": (QC, lambda: _conv_variant()),
    "receptive field: backwards from the output": (QR, _value(field_backwards)),
    "receptive field: NumPy cumprod": (QR, _value(field_numpy)),
    "residual: nn.Sequential body, padding='same'": (QB, _value(SequentialResidual)),
    "residual: norms registered first, in-place ReLU": (QB, _value(NormsFirstResidual)),
    "dataset: everything rendered up front": (Q1, _dataset_cached),
    "dataset: generator seeded in two steps": (Q1, _dataset_functional),
    "model1: nn.Sequential": (Q2, _value(SequentialLineCNN)),
    "model1: layers registered in another order, padding='same'": (Q2, _value(FunctionalLineCNN)),
    "model2: nn.AdaptiveMaxPool2d": (Q3, _value(AdaptivePooledCNN)),
    "model2: max_pool2d over the whole map": (Q3, _value(KernelPooledCNN)),
    "coords: meshgrid": (Q4, _value(coords_meshgrid)),
    "coords: linspace": (Q4, _value(coords_linspace)),
    "coords: NumPy in float64": (Q4, _value(coords_numpy)),
    "model3: standalone, coordinates in forward": (Q5, _value(StandaloneCoordCNN)),
    "model3: subclass of another model 2": (Q5, _value(HelperCoordCNN)),
    "evaluate: concatenated predictions": (Q6E, _value(evaluate_concatenated)),
    "evaluate: running mean, inference_mode": (Q6E, _value(evaluate_running_mean)),
    "evaluate: float64 accumulation": (Q6E, _value(evaluate_float64)),
    "train: sum reduction divided by the count": (Q6T, _value(train_sum_reduction)),
    "train: Torchbearer": (Q6T, _value(train_with_torchbearer)),
    "train: Adam by hand": (Q6T, _value(train_manual_adam)),
    "experiment: losses through NumPy float64": (Q7, lambda: _experiment(tweak=_losses_as_float64_numpy)),
}
SEEDS = (0, 1)
LAB = LabCells("lab05_cnns")
pytestmark = pytest.mark.usefixtures("torch_one_thread")  # small models: one thread is quicker


@pytest.fixture(autouse=True)
def _fast_mode(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")


def reference_namespace(grade_id: str) -> dict:
    if grade_id == Q7:
        return _experiment()
    ns = _base_namespace()
    for cell in ANSWER_CELLS[grade_id]:
        _exec(_grade_cell(cell), ns, f"<{cell}>")
    return ns


def answer_namespace(grade_id: str, make) -> dict:
    if grade_id == Q7:
        return make()
    ns = reference_namespace(grade_id)
    ns[NAMES[grade_id]] = make()
    return ns


_RECORDS: dict = {}


def reference_record(grade_id: str, seed: int):
    if (grade_id, seed) not in _RECORDS:
        _RECORDS[grade_id, seed] = LAB.probe(grade_id, reference_namespace(grade_id), seed)
        assert _RECORDS[grade_id, seed].ok, _RECORDS[grade_id, seed].error
    return _RECORDS[grade_id, seed]


@pytest.mark.parametrize("grade_id", [QS, QC, QR, QB, Q1, Q2, Q3, Q4, Q5, Q6E, Q6T, Q7])
def test_reference_passes_visible_checks_and_its_own_judge(grade_id):
    ns = reference_namespace(grade_id)
    LAB.run_visible(grade_id, ns)
    for seed in SEEDS:
        verdict = LAB.verdict(grade_id, ns, reference_record(grade_id, seed), seed)
        assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_wrong_answers_fail(name):
    grade_id, make = MUTATIONS[name]
    for seed in SEEDS:
        verdict = LAB.verdict(grade_id, answer_namespace(grade_id, make), reference_record(grade_id, seed), seed)
        assert not verdict.passed, f"{name} passes at seed {seed}"


@pytest.mark.parametrize("name", sorted(CORRECT_BUT_DIFFERENT))
def test_correct_answers_written_differently_pass(name):
    grade_id, make = CORRECT_BUT_DIFFERENT[name]
    ns = answer_namespace(grade_id, make)
    LAB.run_visible(grade_id, ns)
    for seed in SEEDS:
        verdict = LAB.verdict(grade_id, ns, reference_record(grade_id, seed), seed)
        assert verdict.passed, f"{name} at seed {seed}: {verdict.message}"


def test_lists_are_long_enough():
    assert len(MUTATIONS) >= 8 and len(CORRECT_BUT_DIFFERENT) >= 3
    for grade_id in (QS, QC, QR, QB, Q1, Q2, Q3, Q4, Q5, Q6E, Q6T, Q7):
        assert sum(g == grade_id for g, _ in MUTATIONS.values()) >= 2
        assert sum(g == grade_id for g, _ in CORRECT_BUT_DIFFERENT.values()) >= 1


VISIBLE_REJECTS = {
    "output size: dilation ignored": (QS, _value(size_no_dilation)),
    "output size: rounds up": (QS, _value(size_ceil)),
    "output size: padding on one side only": (QS, _value(size_padding_once)),
    "output size: true division": (QS, _value(size_true_division)),
    "conv2d: kernel flipped": (QC, lambda: _conv_variant(flatten="flipped")),
    "conv2d: weight flattened kernel-position first": (QC, lambda: _conv_variant(flatten="kernel")),
    "conv2d: bias added per row": (QC, lambda: _conv_variant(bias_per="row")),
    "conv2d: stride ignored": (QC, lambda: _conv_variant(use_stride=False)),
    "conv2d: output size without dilation": (QC, lambda: _conv_variant(size_dilation=False)),
    "receptive field: own stride counted": (QR, lambda: _field(own_stride=True)),
    "receptive field: dilation ignored": (QR, lambda: _field(dilation=False)),
    "residual: no skip": (QB, _residual("no skip")),
    "residual: ReLU before the addition": (QB, _residual("relu before the addition")),
    "residual: no batch norm": (QB, _residual("no batch norm")),
    "dataset: offset ignored": (Q1, _dataset_ignores_offset),
    "dataset: target [c, m]": (Q1, _dataset_wrong_target),
    "dataset: seeded with offset + index + 1": (Q1, _dataset_off_by_one),
    "model1: convolution without padding": (Q2, _value(UnpaddedLineCNN)),
    "model2: pooling window fixed at 40": (Q3, _value(FixedSizePooledCNN)),
    "coords: y channel first": (Q4, _value(coords_swapped)),
    "coords: range [0, 1)": (Q4, _value(coords_unit_range)),
    "coords: grid ends at +0.5": (Q4, _value(coords_inclusive)),
    "model3: one input channel (model 2)": (Q5, _value(AdaptivePooledCNN)),
    "evaluate: sum instead of mean": (Q6E, _value(evaluate_sums)),
    "evaluate: unweighted mean of batch means": (Q6E, _value(evaluate_batch_average)),
    "evaluate: summed over the two outputs": (Q6E, _value(evaluate_per_example)),
    "train: last batch's loss reported": (Q6T, _value(train_last_batch_loss)),
    "experiment: losses as tensors": (Q7, lambda: _experiment(tweak=_losses_as_tensors)),
}


@pytest.mark.parametrize("name", sorted(VISIBLE_REJECTS))
def test_visible_checks_reject_obvious_wrong_answers(name):
    grade_id, make = VISIBLE_REJECTS[name]
    with pytest.raises(Exception):  # noqa: B017 - CheckFailed, or the error the wrong answer runs into
        LAB.run_visible(grade_id, answer_namespace(grade_id, make))


def test_every_graded_question_has_a_visible_reject():
    graded = {QS, QC, QR, QB, Q1, Q2, Q3, Q4, Q5, Q6E, Q6T, Q7}
    assert graded <= {g for g, _ in VISIBLE_REJECTS.values()}


def test_points_total_20_and_titles_match():
    import re

    cells = LAB.notebook.cells
    points = [c.metadata["nbgrader"]["points"] for c in cells if c.metadata.get("nbgrader", {}).get("points")]
    assert sum(points) == 20
    titles = [c.source.splitlines()[0] for c in cells if c.cell_type == "markdown" and c.source.startswith("### Question")]
    assert [int(re.match(r"### Question (\d+)", t).group(1)) for t in titles] == list(range(1, 14))
    stated = sum(sum(int(v) for v in re.findall(r"(\d+)", t.split("(")[-1])) for t in titles)
    assert stated == 20


def test_summary_lists_every_checked_label_in_order():
    import re

    cells = [c.source for c in LAB.notebook.cells if c.cell_type == "code"]
    labels = [m for src in cells for m in re.findall(r'^with (?:exercise|question)\("([^"]+)"\)', src, re.M)]
    summary = cells[-1]
    assert summary.startswith("summary(")
    assert re.findall(r'^        "([^"]+)",$', summary, re.M) == labels


def test_no_fixed_paths_in_tmp():
    for cell in LAB.notebook.cells:
        assert '"/tmp' not in cell.source and "'/tmp" not in cell.source


@pytest.mark.slow
@pytest.mark.parametrize("grade_id", [QS, QC, QR, QB])
def test_new_judges_hold_for_20_seeds(grade_id):
    """The reference and every correct answer written differently pass at 20 seeds; one wrong answer fails."""
    ref_ns = reference_namespace(grade_id)
    others = [make for g, make in CORRECT_BUT_DIFFERENT.values() if g == grade_id]
    wrong = next(make for g, make in MUTATIONS.values() if g == grade_id)
    for seed in range(20):
        ref = LAB.probe(grade_id, ref_ns, seed)
        assert ref.ok, ref.error
        mine = LAB.verdict(grade_id, ref_ns, ref, seed)
        assert mine.passed, f"the reference fails its own judge at seed {seed}: {mine.message}"
        for make in others:
            theirs = LAB.verdict(grade_id, answer_namespace(grade_id, make), ref, seed)
            assert theirs.passed, f"a correct answer fails at seed {seed}: {theirs.message}"
        assert not LAB.verdict(grade_id, answer_namespace(grade_id, wrong), ref, seed).passed


@pytest.mark.slow
def test_training_judge_holds_for_20_seeds():
    """Q6 (b) trains: the reference and a correct answer written differently pass under 20 seeds."""
    ref_ns, other = reference_namespace(Q6T), answer_namespace(Q6T, _value(train_manual_adam))
    for seed in range(20):
        ref = LAB.probe(Q6T, ref_ns, seed)
        mine = LAB.verdict(Q6T, ref_ns, ref, seed)
        assert mine.passed, f"the reference fails its own judge at seed {seed}: {mine.message}"
        theirs = LAB.verdict(Q6T, other, ref, seed)
        assert theirs.passed, f"a correct answer fails at seed {seed}: {theirs.message}"


def test_a_wrong_answer_is_told_what_went_wrong():
    """Judges name the likely mistake, and never quote the reference's numbers."""
    cases = {
        (Q1, _dataset_wrong_target): "[c, m]",
        (Q4, _value(coords_swapped)): "y channel comes before",
        (Q4, _value(coords_inclusive)): "end at +0.5",
        (Q6E, _value(evaluate_per_example)): "summed over the two outputs",
        (Q6T, _value(train_without_train_mode)): "model.train()",
        (Q7, lambda: _experiment("val")): "line_test_loader",
        (QS, _value(size_no_dilation)): "dilation is ignored",
        (QS, _value(size_calls_helper)): "write the formula yourself",
        (QC, lambda: _conv_variant(flatten="flipped")): "kernel is flipped",
        (QC, lambda: _conv_variant(flatten="kernel")): "another order than F.unfold",
        (QC, lambda: _conv_variant(bias_per="row")): "per output row",
        (QC, _value(conv_calls_pytorch)): "PyTorch's own convolution",
        (QR, lambda: _field(own_stride=True)): "own stride",
        (QB, _residual("relu before the addition")): "ReLU comes after the addition",
        (QB, _residual("no skip")): "skip connection",
    }
    for (grade_id, make), phrase in cases.items():
        verdict = LAB.verdict(grade_id, answer_namespace(grade_id, make), reference_record(grade_id, 0), 0)
        assert not verdict.passed and phrase in verdict.message, verdict.message


# ---------------------------------------------------------------- teaching helpers


def _teaching_namespace() -> dict:
    ns = _base_namespace()
    ns["MNIST_MEAN"], ns["MNIST_STD"] = 0.1307, 0.3081
    for name in (
        "draw_digit",
        "to_mnist_style",
        "capture_output",
        "SimpleCNN",
        "BetterCNN",
        "TwoBranchCNN",
    ):
        _exec(_cell_defining(name), ns, f"<{name}>")
    ns["PIXEL_MIN"], ns["PIXEL_MAX"] = (0 - 0.1307) / 0.3081, (1 - 0.1307) / 0.3081
    _exec(_cell_defining("maximise_classes"), ns, "<maximise_classes>")
    return ns


def test_to_mnist_style_centres_the_ink():
    ns = _teaching_namespace()
    pixels = np.zeros((60, 90), dtype=np.float32)
    pixels[5:45, 60:70] = 1.0  # a tall bar far from the centre
    out = ns["to_mnist_style"](pixels)
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32
    ink = out[0] * 0.3081 + 0.1307  # undo the normalisation
    assert float(ink.min()) == pytest.approx(0.0, abs=1e-6) and float(ink.max()) <= 1.0 + 1e-6
    rows, _ = torch.nonzero(ink > 0.05, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 <= 21  # the longer side fits the 20-pixel box
    total = float(ink.sum())
    com_r = float((ink.sum(1) * torch.arange(28)).sum()) / total
    com_c = float((ink.sum(0) * torch.arange(28)).sum()) / total
    assert abs(com_r - 14) <= 1.0 and abs(com_c - 14) <= 1.0


def test_draw_digit_draws_white_on_black():
    ns = _teaching_namespace()
    pixels = ns["draw_digit"]("7")
    assert pixels.shape == (64, 64) and 0.02 < pixels.mean() < 0.5
    assert pixels[0, 0] == 0.0  # black background


def test_capture_output_matches_the_layer_and_cleans_up():
    ns = _teaching_namespace()
    torch.manual_seed(0)
    model = ns["BetterCNN"]().eval()
    x = torch.randn(3, 1, 28, 28)
    got = ns["capture_output"](model, model.conv2, x)
    with torch.no_grad():
        expected = model.conv2(model.pool(F.relu(model.conv1(x))))
    torch.testing.assert_close(got, expected)
    assert not model.conv2._forward_hooks


def test_maximise_classes_raises_each_digits_logit():
    ns = _teaching_namespace()
    torch.manual_seed(0)
    model = ns["SimpleCNN"]()
    images = ns["maximise_classes"](model, steps=15)
    assert images.shape == (10, 1, 28, 28) and not images.requires_grad
    assert (
        float(images.min()) >= ns["PIXEL_MIN"] - 1e-6
        and float(images.max()) <= ns["PIXEL_MAX"] + 1e-6
    )
    with torch.no_grad():
        assert torch.all(model(images).diagonal() > model(torch.zeros(10, 1, 28, 28)).diagonal())
    assert not model.training
    # the batched search equals ten separate searches (images do not interact in eval mode)
    one = ns["maximise_classes"](model, steps=3, weight=1.0)
    alone = torch.zeros(1, 1, 28, 28, requires_grad=True)
    opt = torch.optim.Adam([alone], lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        (-model(alone)[0, 6] + (alone**2).mean()).backward()
        opt.step()
        with torch.no_grad():
            alone.clamp_(ns["PIXEL_MIN"], ns["PIXEL_MAX"])
    torch.testing.assert_close(one[6:7], alone.detach(), rtol=1e-4, atol=1e-5)


def test_parameter_counts_of_the_teaching_models():
    ns = _teaching_namespace()
    counts = {
        name: sum(p.numel() for p in ns[name]().parameters())
        for name in ("SimpleCNN", "BetterCNN", "TwoBranchCNN")
    }
    assert counts == {"SimpleCNN": 592_074, "BetterCNN": 59_933, "TwoBranchCNN": 804_810}
    assert math.isclose(1 * 48 * 9 + 48 + 48 * 40 * 40 * 128 + 128 + 128 * 2 + 2, 9_831_266)
