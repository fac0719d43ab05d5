"""Lab 06 (transfer learning): hidden tests accept answers written differently, reject wrong ones.

Each graded test cell's probe runs over a namespace holding the notebook's imports and given
helpers plus an implementation written here; its judge compares the data with the reference
solution's at the same seed (tests/lab_notebook.py, the real wire format and judge).
``MUTATIONS`` lists wrong answers that must fail, ``CORRECT_BUT_DIFFERENT`` correct answers
written differently that must pass. The teaching exercises' reference solutions get unit
tests of their own.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells, run_source
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LAB = LabCells("lab06_transfer_learning")
GIVEN = ("training-helpers", "transfer-model")


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny models: one thread is quicker


@pytest.fixture(autouse=True)
def quiet_progress(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


def _imports_cell() -> str:
    return next(
        c.source
        for c in LAB.notebook.cells
        if c.cell_type == "code" and "from course_utils import (" in c.source
    )


def base_namespace() -> dict:
    """The notebook's imports and the helpers the problem sheet gives."""
    namespace: dict = {}
    run_source(_imports_cell(), namespace, "<imports>")
    for grade_id in GIVEN:
        run_source(LAB.source(grade_id), namespace, f"<{grade_id}>")
    return namespace


def reference(*answer_ids: str) -> dict:
    """The base namespace with the notebook's own answers to ``answer_ids`` defined."""
    namespace = base_namespace()
    for answer_id in answer_ids:
        run_source(LAB.source(answer_id), namespace, f"<{answer_id}>")
    return namespace


def answers(ns: dict, **names) -> dict:
    """``ns`` with ``names`` (the implementations under test) defined, as a notebook would."""
    ns.update(names)
    return ns


# ------------------------------------------------------------------- Q1: make_finetune_model


def finetune_sequential(ns: dict):
    """nn.Sequential with named children gives .backbone and .head; unfreezing in a loop."""

    def make_finetune_model(backbone, num_classes):
        model = nn.Sequential(
            OrderedDict(backbone=backbone, head=nn.Linear(backbone.out_features, num_classes))
        )
        for parameter in model.parameters():
            parameter.requires_grad = True
        return model

    return make_finetune_model


def finetune_own_class(ns: dict):
    """A class of its own, not derived from TransferModel."""

    class Tuned(nn.Module):
        def __init__(self, backbone, classes):
            super().__init__()
            self.backbone = backbone.requires_grad_()
            self.head = nn.Linear(
                in_features=backbone.out_features, out_features=classes, bias=True
            )

        def forward(self, x):
            features = self.backbone(x)
            return F.linear(features, self.head.weight, self.head.bias)

    return lambda backbone, num_classes: Tuned(backbone, num_classes)


def finetune_keeps_frozen(ns: dict):
    return lambda backbone, num_classes: ns["TransferModel"](
        backbone, nn.Linear(backbone.out_features, num_classes)
    )


def finetune_with_softmax(ns: dict):
    class Softmaxed(nn.Module):
        def __init__(self, backbone, classes):
            super().__init__()
            self.backbone = backbone.requires_grad_(True)
            self.head = nn.Linear(backbone.out_features, classes)

        def forward(self, x):
            return F.softmax(self.head(self.backbone(x)), dim=1)

    return lambda backbone, num_classes: Softmaxed(backbone, num_classes)


def finetune_copies_backbone(ns: dict):
    def make(backbone, num_classes):
        twin = copy.deepcopy(backbone).requires_grad_(True)
        return ns["TransferModel"](twin, nn.Linear(backbone.out_features, num_classes))

    return make


def finetune_frozen_backbone(ns: dict):
    def make(backbone, num_classes):
        return ns["TransferModel"](
            backbone.requires_grad_(False), nn.Linear(backbone.out_features, num_classes)
        )

    return make


def finetune_extra_layer(ns: dict):
    def make(backbone, num_classes):
        head = nn.Sequential(
            nn.Linear(backbone.out_features, 16), nn.ReLU(), nn.Linear(16, num_classes)
        )
        return ns["TransferModel"](backbone.requires_grad_(True), head)

    return make


# --------------------------------------------------------------------- Q2: make_linear_probe


def probe_eval_in_forward(ns: dict):
    """Puts the backbone in evaluation mode on every forward pass instead of overriding train()."""

    class EvalOnForward(nn.Module):
        def __init__(self, backbone, classes):
            super().__init__()
            self.backbone = backbone
            self.head = nn.Linear(backbone.out_features, classes)
            for parameter in self.backbone.parameters():
                parameter.requires_grad_(False)

        def forward(self, x):
            self.backbone.eval()
            with torch.no_grad():
                features = self.backbone(x)
            return self.head(features)

    return lambda backbone, num_classes: EvalOnForward(backbone, num_classes)


def probe_own_train(ns: dict):
    """Overrides train() in a class of its own, calling nn.Module.train explicitly."""

    class Probe(nn.Module):
        def __init__(self, backbone, classes):
            super().__init__()
            self.backbone = backbone.requires_grad_(False).eval()
            self.head = nn.Linear(backbone.out_features, classes)

        def train(self, mode=True):
            nn.Module.train(self, mode)
            self.backbone.train(False)
            return self

        def forward(self, x):
            return self.head(self.backbone(x))

    return lambda backbone, num_classes: Probe(backbone, num_classes)


def probe_freeze_only(ns: dict):
    def make(backbone, num_classes):
        return ns["TransferModel"](
            backbone.requires_grad_(False), nn.Linear(backbone.out_features, num_classes)
        )

    return make


def probe_eval_once(ns: dict):
    def make(backbone, num_classes):
        backbone.requires_grad_(False).eval()
        return ns["TransferModel"](backbone, nn.Linear(backbone.out_features, num_classes))

    return make


def probe_not_frozen(ns: dict):
    LinearProbe = ns["LinearProbe"]
    return lambda backbone, num_classes: LinearProbe(
        backbone, nn.Linear(backbone.out_features, num_classes)
    )


def probe_head_frozen_too(ns: dict):
    LinearProbe = ns["LinearProbe"]

    def make(backbone, num_classes):
        return LinearProbe(backbone, nn.Linear(backbone.out_features, num_classes)).requires_grad_(
            False
        )

    return make


def probe_train_forgets_model(ns: dict):
    """Overrides train() but only switches the head: the model itself never leaves training mode."""

    class HalfProbe(ns["TransferModel"]):
        def train(self, mode=True):
            self.head.train(mode)
            self.backbone.eval()
            return self

    def make(backbone, num_classes):
        return HalfProbe(
            backbone.requires_grad_(False), nn.Linear(backbone.out_features, num_classes)
        )

    return make


# ---------------------------------------------------------------------- Q3: extract_features


@torch.no_grad()
def extract_decorated(model, loader):
    """A decorator instead of a with block; preallocated output; labels through torch.tensor."""
    model.train(False)
    device = next(model.parameters()).device
    n = len(loader.dataset)
    out, labels, start = None, [], 0
    for images, targets in loader:
        batch = model(images.to(device)).to("cpu", torch.float32)
        if out is None:
            out = torch.empty(n, batch.shape[1])
        out[start : start + len(batch)] = batch
        start += len(batch)
        labels += [int(t) for t in targets]
    return out, torch.tensor(labels)


def extract_detached(model, loader):
    """detach() rather than no_grad, growing the result batch by batch."""
    model.eval()
    features = labels = None
    for batch in loader:
        images, targets = batch[0], batch[1]
        chunk = model(images).detach().cpu()
        features = chunk if features is None else torch.cat([features, chunk])
        labels = targets.long() if labels is None else torch.cat([labels, targets.long()])
    return features, labels


def extract_training_mode(model, loader):
    with torch.no_grad():
        pairs = [(model(x), y) for x, y in loader]
    return torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])


def extract_inference_mode(model, loader):
    """Inference tensors cannot take part in a later backward pass."""
    model.eval()
    with torch.inference_mode():
        pairs = [(model(x), y) for x, y in loader]
        return torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])


def extract_with_graph(model, loader):
    model.eval()
    pairs = [(model(x), y) for x, y in loader]
    return torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])


def extract_numpy(model, loader):
    model.eval()
    with torch.no_grad():
        pairs = [(model(x), y) for x, y in loader]
    return torch.cat([p for p, _ in pairs]).numpy(), torch.cat([y for _, y in pairs]).numpy()


def extract_first_batches_only(model, loader):
    """Stops before a short last batch (like drop_last)."""
    model.eval()
    size = loader.batch_size
    with torch.no_grad():
        pairs = [(model(x), y) for x, y in loader if len(y) == size]
    return torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])


# ---------------------------------------------------------------------- Q4: compare_transfer

Q4_PARTS = ("q1-finetune-model", "q2-linear-probe", "q3-extract-features", "q4a-balanced-accuracy")


def _scores(ns: dict, model, loader, num_classes) -> dict:
    """Accuracy and balanced accuracy of ``model`` on ``loader`` (the notebook's predict and balanced_accuracy)."""
    preds, labels = ns["predict"](model, loader)
    return {"accuracy": float((preds == labels).float().mean()),
            "balanced_accuracy": ns["balanced_accuracy"](preds, labels, num_classes)}


def compare_own_loop(ns: dict):
    """time.time, its own Adam loop for the head, the probe evaluated on images, balanced accuracy by confusion matrix."""

    def balanced(model, loader, k):
        counts = torch.zeros(k, k)
        model.eval()
        with torch.no_grad():
            for x, y in loader:
                for t, p in zip(y.tolist(), model(x).argmax(dim=1).tolist()):
                    counts[t, p] += 1
        present = counts.sum(dim=1) > 0
        return float((counts.diag()[present] / counts.sum(dim=1)[present]).mean())

    def compare_transfer(
        make_backbone,
        train_loader,
        features_loader,
        val_loader,
        num_classes,
        finetune_epochs,
        probe_epochs,
        finetune_lr=1e-4,
        probe_lr=1e-3,
    ):
        out = {}
        tic = time.time()
        tuned = ns["make_finetune_model"](make_backbone(), num_classes).to(ns["device"])
        ns["train_classifier"](tuned, train_loader, finetune_epochs, finetune_lr)
        out["finetune"] = {
            "model": tuned,
            "accuracy": float(ns["accuracy"](tuned, val_loader)),
            "balanced_accuracy": balanced(tuned, val_loader, num_classes),
            "seconds": float(time.time() - tic),
        }
        tic = time.time()
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        feats, labels = ns["extract_features"](probe.backbone, features_loader)
        optimiser = torch.optim.Adam(probe.head.parameters(), lr=probe_lr)
        generator = torch.Generator().manual_seed(1)
        for _ in range(probe_epochs):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(labels), 64):
                chosen = order[start : start + 64]
                optimiser.zero_grad()
                F.cross_entropy(probe.head(feats[chosen]), labels[chosen]).backward()
                optimiser.step()
        out["linear_probe"] = {
            "model": probe,
            "accuracy": ns["accuracy"](probe, val_loader),
            "balanced_accuracy": balanced(probe, val_loader, num_classes),
            "seconds": time.time() - tic,
        }
        return out

    return compare_transfer


def compare_probe_first(ns: dict):
    """The probe first, one shared timer helper, features of both sets at once, keyword arguments."""

    def timed(work):
        start = time.perf_counter()
        value = work()
        return value, time.perf_counter() - start

    def compare_transfer(
        make_backbone,
        train_loader,
        features_loader,
        val_loader,
        num_classes,
        finetune_epochs,
        probe_epochs,
        finetune_lr=1e-4,
        probe_lr=1e-3,
    ):
        def probe_run():
            probe = ns["make_linear_probe"](make_backbone(), num_classes)
            (tx, ty), (vx, vy) = (
                ns["extract_features"](probe.backbone, loader)
                for loader in (features_loader, val_loader)
            )
            loader = DataLoader(TensorDataset(tx, ty), batch_size=64, shuffle=True)
            ns["train_classifier"](probe.head, loader, probe_epochs, probe_lr)
            return probe, _scores(ns, probe.head, DataLoader(TensorDataset(vx, vy), batch_size=64), num_classes)

        def finetune_run():
            model = ns["make_finetune_model"](make_backbone(), num_classes)
            ns["train_classifier"](model, train_loader, finetune_epochs, finetune_lr)
            return model, _scores(ns, model, val_loader, num_classes)

        (probe, probe_scores), probe_time = timed(probe_run)
        (model, model_scores), model_time = timed(finetune_run)
        return {
            "linear_probe": {**probe_scores, "seconds": probe_time, "model": probe},
            "finetune": {**model_scores, "seconds": model_time, "model": model},
        }

    return compare_transfer


def _finetune_entry(
    ns: dict, make_backbone, train_loader, val_loader, num_classes, epochs, lr
) -> dict:
    """The fine-tuning half, done right (for wrong answers that err in the other half)."""
    start = time.perf_counter()
    model = ns["make_finetune_model"](make_backbone(), num_classes)
    ns["train_classifier"](model, train_loader, epochs, lr)
    return {**_scores(ns, model, val_loader, num_classes), "seconds": time.perf_counter() - start, "model": model}


def compare_shared_backbone(ns: dict):
    def compare_transfer(make_backbone, *args, **kwargs):
        shared = make_backbone()
        return ns["__reference"](lambda: shared, *args, **kwargs)

    return compare_transfer


def compare_probe_on_images(ns: dict):
    """Trains the whole probe on images every epoch: the backbone runs again and again."""

    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, num_classes, finetune_epochs,
                         probe_epochs, finetune_lr=1e-4, probe_lr=1e-3):
        tuned = _finetune_entry(
            ns, make_backbone, train_loader, val_loader, num_classes, finetune_epochs, finetune_lr
        )
        start = time.perf_counter()
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        ns["train_classifier"](probe, features_loader, probe_epochs, probe_lr)
        return {
            "finetune": tuned,
            "linear_probe": {**_scores(ns, probe, val_loader, num_classes),
                             "seconds": time.perf_counter() - start, "model": probe},
        }

    return compare_transfer


def compare_training_accuracy(ns: dict):
    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, *args, **kwargs):
        result = ns["__reference"](make_backbone, train_loader, features_loader, val_loader, *args, **kwargs)
        for entry in result.values():
            entry["accuracy"] = ns["accuracy"](entry["model"], features_loader)
        return result

    return compare_transfer


def compare_plain_accuracy_as_balanced(ns: dict):
    """Reports the plain accuracy under "balanced_accuracy"."""

    def compare_transfer(*args, **kwargs):
        result = ns["__reference"](*args, **kwargs)
        for entry in result.values():
            entry["balanced_accuracy"] = entry["accuracy"]
        return result

    return compare_transfer


def compare_untimed_extraction(ns: dict):
    """Times only the head's training for the probe."""

    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, num_classes, finetune_epochs,
                         probe_epochs, finetune_lr=1e-4, probe_lr=1e-3):
        tuned = _finetune_entry(
            ns, make_backbone, train_loader, val_loader, num_classes, finetune_epochs, finetune_lr
        )
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        tx, ty = ns["extract_features"](probe.backbone, features_loader)
        vx, vy = ns["extract_features"](probe.backbone, val_loader)
        start = time.perf_counter()
        ns["train_classifier"](
            probe.head, DataLoader(TensorDataset(tx, ty), batch_size=64), probe_epochs, probe_lr
        )
        scores = _scores(ns, probe.head, DataLoader(TensorDataset(vx, vy), batch_size=64), num_classes)
        return {
            "finetune": tuned,
            "linear_probe": {**scores, "seconds": time.perf_counter() - start, "model": probe},
        }

    return compare_transfer


def _probe_entry(
    ns: dict, make_backbone, features_loader, val_loader, num_classes, epochs, lr
) -> dict:
    """The linear-probe half, done right when ``features_loader`` is the unaugmented training data."""
    start = time.perf_counter()
    probe = ns["make_linear_probe"](make_backbone(), num_classes)
    tx, ty = ns["extract_features"](probe.backbone, features_loader)
    vx, vy = ns["extract_features"](probe.backbone, val_loader)
    ns["train_classifier"](
        probe.head, DataLoader(TensorDataset(tx, ty), batch_size=64, shuffle=True), epochs, lr
    )
    scores = _scores(ns, probe.head, DataLoader(TensorDataset(vx, vy), batch_size=64), num_classes)
    return {**scores, "seconds": time.perf_counter() - start, "model": probe}


def compare_probe_twice(ns: dict):
    """'Fine-tunes' a frozen backbone: it never changes."""

    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, num_classes, finetune_epochs,
                         probe_epochs, finetune_lr=1e-4, probe_lr=1e-3):
        start = time.perf_counter()
        frozen = ns["make_linear_probe"](make_backbone(), num_classes)
        ns["train_classifier"](frozen, train_loader, finetune_epochs, finetune_lr)
        tuned = {**_scores(ns, frozen, val_loader, num_classes), "seconds": time.perf_counter() - start,
                 "model": frozen}
        probe = _probe_entry(
            ns, make_backbone, features_loader, val_loader, num_classes, probe_epochs, probe_lr
        )
        return {"finetune": tuned, "linear_probe": probe}

    return compare_transfer


def _trained_on(ns: dict, finetune_from: str, probe_from: str):
    """The two approaches trained on the named loaders ("train", "features" or "val") instead of the right ones."""

    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, num_classes, finetune_epochs,
                         probe_epochs, finetune_lr=3e-4, probe_lr=1e-3):
        loaders = {"train": train_loader, "features": features_loader, "val": val_loader}
        tuned = _finetune_entry(ns, make_backbone, loaders[finetune_from], val_loader, num_classes, finetune_epochs,
                                finetune_lr)
        probe = _probe_entry(ns, make_backbone, loaders[probe_from], val_loader, num_classes, probe_epochs, probe_lr)
        return {"finetune": tuned, "linear_probe": probe}

    return compare_transfer


def compare_probe_features_augmented(ns: dict):
    """The probe's training features taken through train_loader: one random augmented view per image."""
    return _trained_on(ns, "train", "train")


def compare_finetuned_without_augmentation(ns: dict):
    """Fine-tunes on features_loader (no augmentation, no shuffling)."""
    return _trained_on(ns, "features", "features")


def finetune_float64_head(ns: dict):
    """Correct too: the head built from its own weight tensors, features cast explicitly."""

    class Tuned(nn.Module):
        def __init__(self, backbone, classes):
            super().__init__()
            self.backbone = backbone
            self.head = nn.Linear(backbone.out_features, classes)
            for parameter in self.parameters():
                parameter.requires_grad_(True)

        def forward(self, x):
            features = self.backbone(x).to(self.head.weight.dtype)
            return features @ self.head.weight.T + self.head.bias

    return lambda backbone, num_classes: Tuned(backbone, num_classes)


def finetune_shared_head(ns: dict):
    """Builds the head once and hands the same one to every model."""
    heads: dict = {}

    def make(backbone, num_classes):
        key = (backbone.out_features, num_classes)
        heads.setdefault(key, nn.Linear(*key))
        return ns["TransferModel"](backbone.requires_grad_(True), heads[key])

    return make


def finetune_no_bias(ns: dict):
    def make(backbone, num_classes):
        head = nn.Linear(backbone.out_features, num_classes, bias=False)
        return ns["TransferModel"](backbone.requires_grad_(True), head)

    return make


def finetune_ignores_num_classes(ns: dict):
    def make(backbone, num_classes):
        return ns["TransferModel"](backbone.requires_grad_(True), nn.Linear(backbone.out_features, 2))

    return make


def probe_no_grad_head(ns: dict):
    """Correct too: the backbone's forward under no_grad inside a train() override."""

    class Probe(ns["TransferModel"]):
        def train(self, mode=True):
            super().train(mode)
            for module in self.backbone.modules():
                module.training = False
            return self

        def forward(self, images):
            with torch.no_grad():
                features = self.backbone(images)
            return self.head(features)

    def make(backbone, num_classes):
        for parameter in backbone.parameters():
            parameter.requires_grad = False
        return Probe(backbone, nn.Linear(backbone.out_features, num_classes)).train()

    return make


def probe_ignores_num_classes(ns: dict):
    LinearProbe = ns["LinearProbe"]

    def make(backbone, num_classes):
        return LinearProbe(backbone.requires_grad_(False), nn.Linear(backbone.out_features, 2)).train()

    return make


def extract_numpy_stack(model, loader):
    """Correct too: features gathered through NumPy, labels as a list turned into a tensor."""
    import numpy as np

    model.eval()
    device = next(model.parameters()).device
    rows, labels = [], []
    with torch.no_grad():
        for images, targets in loader:
            rows.append(model(images.to(device)).cpu().numpy())
            labels.extend(targets.tolist())
    return torch.from_numpy(np.concatenate(rows)).float(), torch.tensor(labels, dtype=torch.int64)


def extract_float64(model, loader):
    model.eval()
    with torch.no_grad():
        pairs = [(model(x).double(), y) for x, y in loader]
    return torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])


def extract_restores_train_mode(model, loader):
    """Evaluation mode, but dropout left on: model.train() before the last batch."""
    model.eval()
    out, labels = [], []
    with torch.no_grad():
        for n, (x, y) in enumerate(loader):
            if n == len(loader) - 1:
                model.train()
            out.append(model(x))
            labels.append(y)
    return torch.cat(out), torch.cat(labels)


def _fixed(ns: dict, **overrides):
    """The reference compare_transfer with some of its arguments replaced (an ignored argument)."""

    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, num_classes, finetune_epochs,
                         probe_epochs, finetune_lr=3e-4, probe_lr=1e-3):
        args = dict(num_classes=num_classes, finetune_epochs=finetune_epochs, probe_epochs=probe_epochs,
                    finetune_lr=finetune_lr, probe_lr=probe_lr)
        args.update({k: (v(args) if callable(v) else v) for k, v in overrides.items()})
        return ns["__reference"](make_backbone, train_loader, features_loader, val_loader, **args)

    return compare_transfer


def compare_ignores_probe_lr(ns: dict):
    return _fixed(ns, probe_lr=1e-3)


def compare_ignores_finetune_lr(ns: dict):
    return _fixed(ns, finetune_lr=3e-4)


def compare_swapped_lrs(ns: dict):
    return _fixed(ns, finetune_lr=lambda a: a["probe_lr"], probe_lr=lambda a: a["finetune_lr"])


def compare_one_lr(ns: dict):
    return _fixed(ns, probe_lr=lambda a: a["finetune_lr"])


def compare_ignores_probe_epochs(ns: dict):
    return _fixed(ns, probe_epochs=lambda a: a["finetune_epochs"])


def compare_ignores_finetune_epochs(ns: dict):
    return _fixed(ns, finetune_epochs=1)


def compare_probe_fitted_on_val(ns: dict):
    """The probe's head is trained on the validation features."""
    return _trained_on(ns, "train", "val")


def compare_finetuned_on_val(ns: dict):
    """The backbone is fine-tuned on the validation data."""
    return _trained_on(ns, "val", "features")


def compare_float64_probe(ns: dict):
    """Correct too: the probe's head trained in float64 by a loop of its own; scores from images, masks per class."""

    def compare_transfer(make_backbone, train_loader, features_loader, val_loader, num_classes, finetune_epochs,
                         probe_epochs, finetune_lr=3e-4, probe_lr=1e-3):
        tuned = _finetune_entry(ns, make_backbone, train_loader, val_loader, num_classes, finetune_epochs, finetune_lr)
        start = time.perf_counter()
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        features, labels = ns["extract_features"](probe.backbone, features_loader)
        features = features.double()
        probe.head.double()
        optimiser = torch.optim.Adam(probe.head.parameters(), lr=probe_lr)
        for _ in range(probe_epochs):
            for chosen in torch.randperm(len(labels)).split(64):
                optimiser.zero_grad()
                F.cross_entropy(probe.head(features[chosen]), labels[chosen]).backward()
                optimiser.step()
        probe.head.float()
        preds, targets = ns["predict"](probe, val_loader)
        recalls = [float((preds[targets == c] == c).float().mean()) for c in targets.unique().tolist()]
        return {"finetune": tuned,
                "linear_probe": {"accuracy": ns["accuracy"](probe, val_loader),
                                 "balanced_accuracy": sum(recalls) / len(recalls),
                                 "seconds": time.perf_counter() - start, "model": probe}}

    return compare_transfer


# --------------------------------------------------------------------- Q4a: balanced_accuracy


def balanced_confusion_matrix(preds, targets, num_classes):
    """Correct too: through a confusion matrix (rows: true class), rows with no items left out."""
    counts = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    counts.index_put_((targets, preds), torch.ones(len(targets), dtype=torch.float64), accumulate=True)
    rows = counts.sum(dim=1)
    return float((counts.diagonal()[rows > 0] / rows[rows > 0]).mean())


def balanced_numpy_masks(preds, targets, num_classes):
    """Correct too: NumPy masks per class present; returns a NumPy float."""
    import numpy as np

    p, t = np.asarray(preds), np.asarray(targets)
    return np.mean([np.mean(p[t == c] == c) for c in np.unique(t)])


def balanced_tensor_result(preds, targets, num_classes):
    """Correct too: per-class recall by bincount, in float64."""
    hits = torch.bincount(targets[preds == targets], minlength=num_classes).double()
    sizes = torch.bincount(targets, minlength=num_classes).double()
    return (hits[sizes > 0] / sizes[sizes > 0]).mean().item()


def balanced_plain_accuracy(preds, targets, num_classes):
    return float((preds == targets).float().mean())


def balanced_absent_as_zero(preds, targets, num_classes):
    """Averages over every class 0..num_classes-1, counting a class absent from targets as 0."""
    recalls = [float((preds[targets == c] == c).float().mean()) if (targets == c).any() else 0.0 for c in range(num_classes)]
    return sum(recalls) / num_classes


def balanced_swapped(preds, targets, num_classes):
    """Divides by the column sums of the confusion matrix: mean precision over predicted classes."""
    precisions = [float((targets[preds == c] == c).float().mean()) for c in range(num_classes) if (preds == c).any()]
    return sum(precisions) / len(precisions)


def balanced_two_classes_only(preds, targets, num_classes):
    recalls = [float((preds[targets == c] == c).float().mean()) for c in (0, 1) if (targets == c).any()]
    return sum(recalls) / len(recalls)


def balanced_sorts_in_place(preds, targets, num_classes):
    """Right value, but sorts the caller's tensors in place."""
    order = targets.argsort()
    targets.copy_(targets[order])
    preds.copy_(preds[order])
    return balanced_confusion_matrix(preds, targets, num_classes)


def q4_namespace() -> dict:
    ns = reference(*Q4_PARTS, "q4-compare")
    ns["__reference"] = ns["compare_transfer"]
    return ns


# ------------------------------------------------------------------------- the lists, as data

# name -> (graded test cell, answer cell it replaces, name defined, factory(namespace) -> the answer)
Q1, Q2, Q3, Q4 = "q1-finetune-model-tests", "q2-linear-probe-tests", "q3-extract-features-tests", "q4-compare-tests"
QB = "q4a-balanced-accuracy-tests"
ANSWERS = {Q1: ("q1-finetune-model",), Q2: ("q2-linear-probe",), Q3: ("q3-extract-features",),
           QB: ("q4a-balanced-accuracy",), Q4: (*Q4_PARTS, "q4-compare")}
NAMES = {Q1: "make_finetune_model", Q2: "make_linear_probe", Q3: "extract_features", QB: "balanced_accuracy",
         Q4: "compare_transfer"}


def _plain(fn):
    return lambda ns: fn


MUTATIONS = {
    "finetune: backbone left frozen (no requires_grad_(True))": (Q1, finetune_keeps_frozen),
    "finetune: softmax in forward": (Q1, finetune_with_softmax),
    "finetune: trains a copy of the backbone": (Q1, finetune_copies_backbone),
    "finetune: freezes the backbone": (Q1, finetune_frozen_backbone),
    "finetune: an extra hidden layer in the head": (Q1, finetune_extra_layer),
    "finetune: one head shared by every model": (Q1, finetune_shared_head),
    "finetune: head without bias": (Q1, finetune_no_bias),
    "finetune: num_classes ignored": (Q1, finetune_ignores_num_classes),
    "probe: frozen but not kept in evaluation mode": (Q2, probe_freeze_only),
    "probe: evaluation mode once, lost at model.train()": (Q2, probe_eval_once),
    "probe: backbone not frozen": (Q2, probe_not_frozen),
    "probe: head frozen too": (Q2, probe_head_frozen_too),
    "probe: model.eval() leaves the model in training mode": (Q2, probe_train_forgets_model),
    "probe: num_classes ignored": (Q2, probe_ignores_num_classes),
    "extract: model left in training mode": (Q3, _plain(extract_training_mode)),
    "extract: torch.inference_mode": (Q3, _plain(extract_inference_mode)),
    "extract: features keep the autograd graph": (Q3, _plain(extract_with_graph)),
    "extract: NumPy arrays returned": (Q3, _plain(extract_numpy)),
    "extract: short last batch dropped": (Q3, _plain(extract_first_batches_only)),
    "extract: float64 features": (Q3, _plain(extract_float64)),
    "extract: dropout switched on for the last batch": (Q3, _plain(extract_restores_train_mode)),
    "balanced: plain accuracy": (QB, _plain(balanced_plain_accuracy)),
    "balanced: classes absent from targets averaged in as 0": (QB, _plain(balanced_absent_as_zero)),
    "balanced: rows and columns swapped (mean precision)": (QB, _plain(balanced_swapped)),
    "balanced: only classes 0 and 1": (QB, _plain(balanced_two_classes_only)),
    "balanced: sorts its inputs in place": (QB, _plain(balanced_sorts_in_place)),
    "compare: one backbone for both approaches": (Q4, compare_shared_backbone),
    "compare: probe features through the training augmentation": (Q4, compare_probe_features_augmented),
    "compare: fine-tuned without augmentation": (Q4, compare_finetuned_without_augmentation),
    "compare: plain accuracy reported as balanced": (Q4, compare_plain_accuracy_as_balanced),
    "compare: probe trained on images every epoch": (Q4, compare_probe_on_images),
    "compare: training accuracy reported": (Q4, compare_training_accuracy),
    "compare: feature extraction not timed": (Q4, compare_untimed_extraction),
    "compare: 'fine-tuning' a frozen backbone": (Q4, compare_probe_twice),
    "compare: probe_lr ignored": (Q4, compare_ignores_probe_lr),
    "compare: finetune_lr ignored": (Q4, compare_ignores_finetune_lr),
    "compare: learning rates swapped": (Q4, compare_swapped_lrs),
    "compare: finetune_lr used for the probe too": (Q4, compare_one_lr),
    "compare: probe_epochs ignored": (Q4, compare_ignores_probe_epochs),
    "compare: finetune_epochs ignored": (Q4, compare_ignores_finetune_epochs),
    "compare: linear probe fitted on the validation data": (Q4, compare_probe_fitted_on_val),
    "compare: fine-tuned on the validation data": (Q4, compare_finetuned_on_val),
}

CORRECT_BUT_DIFFERENT = {
    "finetune: nn.Sequential with named children": (Q1, finetune_sequential),
    "finetune: a class of its own with F.linear": (Q1, finetune_own_class),
    "finetune: matrix product with the head's weights": (Q1, finetune_float64_head),
    "probe: evaluation mode set in forward": (Q2, probe_eval_in_forward),
    "probe: a class of its own overriding train()": (Q2, probe_own_train),
    "probe: module flags set directly, forward under no_grad": (Q2, probe_no_grad_head),
    "extract: decorator, preallocated output": (Q3, _plain(extract_decorated)),
    "extract: detach() instead of no_grad": (Q3, _plain(extract_detached)),
    "extract: through NumPy": (Q3, _plain(extract_numpy_stack)),
    "balanced: through a confusion matrix": (QB, _plain(balanced_confusion_matrix)),
    "balanced: NumPy masks per class, NumPy float": (QB, _plain(balanced_numpy_masks)),
    "balanced: bincount in float64": (QB, _plain(balanced_tensor_result)),
    "compare: its own training loop, probe accuracy on images with accuracy()": (Q4, compare_own_loop),
    "compare: the probe first, one timer helper": (Q4, compare_probe_first),
    "compare: float64 head, own loop, other shuffling": (Q4, compare_float64_probe),
}
SEEDS = (0, 1)


def answer_namespace(grade_id: str, factory) -> dict:
    """The reference namespace for ``grade_id`` with the answer ``factory`` makes in place of the notebook's."""
    ns = q4_namespace() if grade_id == Q4 else reference(*ANSWERS[grade_id])
    return answers(ns, **{NAMES[grade_id]: factory(ns)})


_RECORDS: dict = {}


def reference_record(grade_id: str, seed: int):
    """The reference's probe record (computed once per test session)."""
    if (grade_id, seed) not in _RECORDS:
        _RECORDS[grade_id, seed] = LAB.probe(grade_id, reference(*ANSWERS[grade_id]), seed)
        assert _RECORDS[grade_id, seed].ok, _RECORDS[grade_id, seed].error
    return _RECORDS[grade_id, seed]


@pytest.mark.parametrize("grade_id", [Q1, Q2, Q3, QB, Q4])
def test_reference_passes_visible_checks_and_its_own_judge(grade_id):
    ns = reference(*ANSWERS[grade_id])
    LAB.run_visible(grade_id, ns)
    for seed in SEEDS:
        verdict = LAB.verdict(grade_id, ns, reference_record(grade_id, seed), seed)
        assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_wrong_answers_fail(name):
    grade_id, factory = MUTATIONS[name]
    for seed in SEEDS:
        verdict = LAB.verdict(grade_id, answer_namespace(grade_id, factory), reference_record(grade_id, seed), seed)
        assert not verdict.passed, f"{name} passes at seed {seed}"


@pytest.mark.parametrize("name", sorted(CORRECT_BUT_DIFFERENT))
def test_correct_answers_written_differently_pass(name):
    grade_id, factory = CORRECT_BUT_DIFFERENT[name]
    ns = answer_namespace(grade_id, factory)
    LAB.run_visible(grade_id, ns)
    for seed in SEEDS:
        verdict = LAB.verdict(grade_id, ns, reference_record(grade_id, seed), seed)
        assert verdict.passed, f"{name} at seed {seed}: {verdict.message}"


def test_lists_are_long_enough():
    assert len(MUTATIONS) >= 8 and len(CORRECT_BUT_DIFFERENT) >= 3
    for grade_id in (Q1, Q2, Q3, QB, Q4):
        assert sum(g == grade_id for g, _ in MUTATIONS.values()) >= 2
        assert sum(g == grade_id for g, _ in CORRECT_BUT_DIFFERENT.values()) >= 2


def test_a_wrong_answer_is_told_what_went_wrong():
    """Judges name the likely mistake, and never quote the reference's numbers."""
    cases = {
        (Q1, finetune_with_softmax): "softmax",
        (Q4, compare_probe_fitted_on_val): "validation labels",
        (Q4, compare_swapped_lrs): "finetune_lr",
        (Q4, compare_probe_on_images): "extract their features once",
        (Q4, compare_probe_features_augmented): "features_loader",
        (Q4, compare_plain_accuracy_as_balanced): "plain accuracy",
        (QB, _plain(balanced_plain_accuracy)): "plain accuracy",
        (QB, _plain(balanced_absent_as_zero)): "classes present",
        (QB, _plain(balanced_swapped)): "rows and columns swapped",
    }
    for (grade_id, factory), phrase in cases.items():
        verdict = LAB.verdict(grade_id, answer_namespace(grade_id, factory), reference_record(grade_id, 0), 0)
        assert not verdict.passed and phrase in verdict.message, verdict.message


@pytest.mark.slow
def test_compare_margins_hold_for_20_seeds():
    """Q4 trains models: the reference and a correct answer written differently pass under 20 seeds."""
    other = answer_namespace(Q4, compare_float64_probe)
    for seed in range(20):
        ref = reference_record(Q4, seed)
        mine = LAB.verdict(Q4, reference(*ANSWERS[Q4]), ref, seed)
        assert mine.passed, f"the reference fails its own judge at seed {seed}: {mine.message}"
        theirs = LAB.verdict(Q4, other, ref, seed)
        assert theirs.passed, f"a correct answer fails at seed {seed}: {theirs.message}"


# ------------------------------------------------------------------- the teaching exercises


def test_top_k_orders_names_and_probabilities():
    top_k = reference("top-k")["top_k"]
    probabilities = torch.softmax(torch.tensor([0.3, 2.0, -1.0, 1.2, 0.0]), dim=0)
    got = top_k(probabilities, 3, ["a", "b", "c", "d", "e"])
    assert [name for name, _ in got] == ["b", "d", "a"]
    assert all(isinstance(p, float) for _, p in got)
    assert [p for _, p in got] == pytest.approx(sorted(probabilities.tolist(), reverse=True)[:3])


def test_stratified_split_keeps_class_shares_and_repeats():
    split = reference("stratified-split")["stratified_split"]
    targets = torch.tensor([0] * 30 + [1] * 70 + [2] * 9)[
        torch.randperm(109, generator=torch.Generator().manual_seed(0))
    ]
    train, val = split(targets, 0.25, seed=4)
    assert sorted(train + val) == list(range(109)) and not set(train) & set(val)
    assert [int((targets[val] == c).sum()) for c in (0, 1, 2)] == [
        round(0.25 * 30),
        round(0.25 * 70),
        round(0.25 * 9),
    ]
    assert split(targets, 0.25, seed=4) == (train, val)
    assert split(targets, 0.25, seed=5) != (train, val)
    assert split(targets, 0.0, seed=1)[1] == []


def test_count_parameters_counts_frozen_and_trainable_entries():
    count = reference("count-parameters")["count_parameters"]
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    assert count(model) == (4 * 2 + 2 + 8, 3 * 4 * 9 + 4 + 8 + 4 * 2 + 2)


def test_given_transfer_model_and_tiny_backbone_fit_the_contract():
    ns = base_namespace()
    backbone = ns["TinyBackbone"](5)
    model = ns["TransferModel"](backbone, nn.Linear(backbone.out_features, 3)).eval()
    images = torch.randn(4, 3, 11, 7)
    assert backbone(images).shape == (4, 5)
    assert torch.allclose(model(images), model.head(backbone(images)))


def test_accuracy_helper_counts_correct_predictions():
    ns = base_namespace()
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
        model.bias.zero_()
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    loader = DataLoader(TensorDataset(inputs, torch.tensor([0, 1, 1, 1])), batch_size=3)
    assert ns["accuracy"](model, loader) == pytest.approx(0.75)


# ------------------------------------------------------------- visible checks reject the obvious


VISIBLY_WRONG = {
    "finetune: backbone left frozen": (Q1, finetune_keeps_frozen),
    "finetune: softmax in forward": (Q1, finetune_with_softmax),
    "probe: frozen but not kept in evaluation mode": (Q2, probe_freeze_only),
    "probe: backbone not frozen": (Q2, probe_not_frozen),
    "extract: model left in training mode": (Q3, _plain(extract_training_mode)),
    "extract: features keep the autograd graph": (Q3, _plain(extract_with_graph)),
    "balanced: plain accuracy": (QB, _plain(balanced_plain_accuracy)),
    "balanced: classes absent from targets averaged in as 0": (QB, _plain(balanced_absent_as_zero)),
    "balanced: rows and columns swapped": (QB, _plain(balanced_swapped)),
    "compare: plain accuracy reported as balanced": (Q4, compare_plain_accuracy_as_balanced),
    "compare: training accuracy reported": (Q4, compare_training_accuracy),
}


@pytest.mark.parametrize("name", sorted(VISIBLY_WRONG))
def test_visible_checks_reject_obvious_mistakes(name):
    grade_id, factory = VISIBLY_WRONG[name]
    with pytest.raises(Exception):
        LAB.run_visible(grade_id, answer_namespace(grade_id, factory))


def test_visible_checks_record_their_question():
    from course_utils import selfcheck

    selfcheck.reset()
    LAB.run_visible(QB, reference(*ANSWERS[QB]))
    assert [(r.label, r.ok) for r in selfcheck.results()] == [("Question 4a: balanced_accuracy", True)]
    selfcheck.reset()


def test_balanced_accuracy_judge_holds_for_20_seeds():
    """No training here, so cheap: the reference and every correct variant pass, every wrong one fails."""
    right = [name for name, (g, _) in CORRECT_BUT_DIFFERENT.items() if g == QB]
    wrong = [name for name, (g, _) in MUTATIONS.items() if g == QB]
    for seed in range(20):
        ref = reference_record(QB, seed)
        for name in right:
            verdict = LAB.verdict(QB, answer_namespace(QB, CORRECT_BUT_DIFFERENT[name][1]), ref, seed)
            assert verdict.passed, f"{name} at seed {seed}: {verdict.message}"
        for name in wrong:
            verdict = LAB.verdict(QB, answer_namespace(QB, MUTATIONS[name][1]), ref, seed)
            assert not verdict.passed, f"{name} passes at seed {seed}"


def test_balanced_accuracy_reference_values():
    balanced = reference(*ANSWERS[QB])["balanced_accuracy"]
    assert balanced(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 1]), 2) == pytest.approx(0.5)
    assert balanced(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 1]), 4) == pytest.approx((1 + 1 / 3) / 2)
    assert isinstance(balanced(torch.tensor([1]), torch.tensor([1]), 2), float)


def test_summary_lists_every_self_check_in_order():
    import re

    labels = [m.group(2) for c in LAB.notebook.cells if c.cell_type == "code"
              for m in re.finditer(r'with (exercise|question)\("([^"]+)"\):', c.source)]
    summary_cell = LAB.source("self-check")
    assert labels == re.findall(r'^        "([^"]+)",$', summary_cell, flags=re.M)
    assert len(labels) == 8
