"""Lab 06 (transfer learning): hidden tests accept answers written differently, reject wrong ones.

Each graded test cell (visible and hidden parts) is taken from the source notebook and run in
a namespace holding the notebook's imports and given helpers plus an implementation written
here. The teaching exercises' reference solutions get unit tests of their own.
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

from course_utils import CheckFailed

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
        if c.cell_type == "code" and c.source.startswith("import time")
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


def run_tests(grade_id: str, namespace: dict) -> None:
    """Run one graded test cell in ``namespace`` (seeded like a fresh kernel would not be)."""
    torch.manual_seed(0)
    LAB.run_tests(grade_id, namespace)


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


def test_finetune_reference_passes():
    run_tests("q1-finetune-model-tests", reference("q1-finetune-model"))


@pytest.mark.parametrize("make", [finetune_sequential, finetune_own_class])
def test_finetune_alternatives_pass(make):
    ns = base_namespace()
    run_tests("q1-finetune-model-tests", answers(ns, make_finetune_model=make(ns)))


@pytest.mark.parametrize(
    "make",
    [
        finetune_keeps_frozen,
        finetune_with_softmax,
        finetune_copies_backbone,
        finetune_frozen_backbone,
        finetune_extra_layer,
    ],
)
def test_finetune_wrong_answers_fail(make):
    ns = base_namespace()
    with pytest.raises(CheckFailed):
        run_tests("q1-finetune-model-tests", answers(ns, make_finetune_model=make(ns)))


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


def test_probe_reference_passes():
    run_tests("q2-linear-probe-tests", reference("q2-linear-probe"))


@pytest.mark.parametrize("make", [probe_eval_in_forward, probe_own_train])
def test_probe_alternatives_pass(make):
    ns = base_namespace()
    run_tests("q2-linear-probe-tests", answers(ns, make_linear_probe=make(ns)))


@pytest.mark.parametrize(
    "make",
    [
        probe_freeze_only,
        probe_eval_once,
        probe_not_frozen,
        probe_head_frozen_too,
        probe_train_forgets_model,
    ],
)
def test_probe_wrong_answers_fail(make):
    ns = reference("q2-linear-probe")  # LinearProbe as given, for the answers that build on it
    with pytest.raises(CheckFailed):
        run_tests("q2-linear-probe-tests", answers(ns, make_linear_probe=make(ns)))


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


def test_extract_reference_passes():
    run_tests("q3-extract-features-tests", reference("q3-extract-features"))


@pytest.mark.parametrize("fn", [extract_decorated, extract_detached])
def test_extract_alternatives_pass(fn):
    run_tests("q3-extract-features-tests", answers(base_namespace(), extract_features=fn))


@pytest.mark.parametrize(
    "fn",
    [
        extract_training_mode,
        extract_inference_mode,
        extract_with_graph,
        extract_numpy,
        extract_first_batches_only,
    ],
)
def test_extract_wrong_answers_fail(fn):
    with pytest.raises(CheckFailed):
        run_tests("q3-extract-features-tests", answers(base_namespace(), extract_features=fn))


# ---------------------------------------------------------------------- Q4: compare_transfer

Q4_PARTS = ("q1-finetune-model", "q2-linear-probe", "q3-extract-features")


def compare_own_loop(ns: dict):
    """time.time, its own Adam loop for the head, and the probe evaluated on images."""

    def compare_transfer(
        make_backbone,
        train_loader,
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
            "seconds": float(time.time() - tic),
        }
        tic = time.time()
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        feats, labels = ns["extract_features"](probe.backbone, train_loader)
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
            "seconds": time.time() - tic,
        }
        return out

    return compare_transfer


def compare_probe_first(ns: dict):
    """The probe first, one shared timer helper, features of both sets at once."""

    def timed(work):
        start = time.perf_counter()
        value = work()
        return value, time.perf_counter() - start

    def compare_transfer(
        make_backbone,
        train_loader,
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
                for loader in (train_loader, val_loader)
            )
            loader = DataLoader(TensorDataset(tx, ty), batch_size=64, shuffle=True)
            ns["train_classifier"](probe.head, loader, probe_epochs, probe_lr)
            return probe, ns["accuracy"](
                probe.head, DataLoader(TensorDataset(vx, vy), batch_size=64)
            )

        def finetune_run():
            model = ns["make_finetune_model"](make_backbone(), num_classes)
            ns["train_classifier"](model, train_loader, finetune_epochs, finetune_lr)
            return model, ns["accuracy"](model, val_loader)

        (probe, probe_acc), probe_time = timed(probe_run)
        (model, model_acc), model_time = timed(finetune_run)
        return {
            "linear_probe": {"accuracy": probe_acc, "seconds": probe_time, "model": probe},
            "finetune": {"accuracy": model_acc, "seconds": model_time, "model": model},
        }

    return compare_transfer


def _finetune_entry(
    ns: dict, make_backbone, train_loader, val_loader, num_classes, epochs, lr
) -> dict:
    """The fine-tuning half, done right (for wrong answers that err in the other half)."""
    start = time.perf_counter()
    model = ns["make_finetune_model"](make_backbone(), num_classes)
    ns["train_classifier"](model, train_loader, epochs, lr)
    return {
        "accuracy": ns["accuracy"](model, val_loader),
        "seconds": time.perf_counter() - start,
        "model": model,
    }


def compare_shared_backbone(ns: dict):
    def compare_transfer(make_backbone, *args, **kwargs):
        shared = make_backbone()
        return ns["__reference"](lambda: shared, *args, **kwargs)

    return compare_transfer


def compare_probe_on_images(ns: dict):
    """Trains the whole probe on images every epoch: the backbone runs again and again."""

    def compare_transfer(
        make_backbone,
        train_loader,
        val_loader,
        num_classes,
        finetune_epochs,
        probe_epochs,
        finetune_lr=1e-4,
        probe_lr=1e-3,
    ):
        tuned = _finetune_entry(
            ns, make_backbone, train_loader, val_loader, num_classes, finetune_epochs, finetune_lr
        )
        start = time.perf_counter()
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        ns["train_classifier"](probe, train_loader, probe_epochs, probe_lr)
        return {
            "finetune": tuned,
            "linear_probe": {
                "accuracy": ns["accuracy"](probe, val_loader),
                "seconds": time.perf_counter() - start,
                "model": probe,
            },
        }

    return compare_transfer


def compare_training_accuracy(ns: dict):
    def compare_transfer(make_backbone, train_loader, val_loader, *args, **kwargs):
        result = ns["__reference"](make_backbone, train_loader, val_loader, *args, **kwargs)
        for entry in result.values():
            entry["accuracy"] = ns["accuracy"](entry["model"], train_loader)
        return result

    return compare_transfer


def compare_untimed_extraction(ns: dict):
    """Times only the head's training for the probe."""

    def compare_transfer(
        make_backbone,
        train_loader,
        val_loader,
        num_classes,
        finetune_epochs,
        probe_epochs,
        finetune_lr=1e-4,
        probe_lr=1e-3,
    ):
        tuned = _finetune_entry(
            ns, make_backbone, train_loader, val_loader, num_classes, finetune_epochs, finetune_lr
        )
        probe = ns["make_linear_probe"](make_backbone(), num_classes)
        tx, ty = ns["extract_features"](probe.backbone, train_loader)
        vx, vy = ns["extract_features"](probe.backbone, val_loader)
        start = time.perf_counter()
        ns["train_classifier"](
            probe.head, DataLoader(TensorDataset(tx, ty), batch_size=64), probe_epochs, probe_lr
        )
        accuracy = ns["accuracy"](probe.head, DataLoader(TensorDataset(vx, vy), batch_size=64))
        return {
            "finetune": tuned,
            "linear_probe": {
                "accuracy": accuracy,
                "seconds": time.perf_counter() - start,
                "model": probe,
            },
        }

    return compare_transfer


def _probe_entry(
    ns: dict, make_backbone, train_loader, val_loader, num_classes, epochs, lr
) -> dict:
    """The linear-probe half, done right."""
    start = time.perf_counter()
    probe = ns["make_linear_probe"](make_backbone(), num_classes)
    tx, ty = ns["extract_features"](probe.backbone, train_loader)
    vx, vy = ns["extract_features"](probe.backbone, val_loader)
    ns["train_classifier"](
        probe.head, DataLoader(TensorDataset(tx, ty), batch_size=64, shuffle=True), epochs, lr
    )
    accuracy = ns["accuracy"](probe.head, DataLoader(TensorDataset(vx, vy), batch_size=64))
    return {"accuracy": accuracy, "seconds": time.perf_counter() - start, "model": probe}


def compare_probe_twice(ns: dict):
    """'Fine-tunes' a frozen backbone: it never changes."""

    def compare_transfer(
        make_backbone,
        train_loader,
        val_loader,
        num_classes,
        finetune_epochs,
        probe_epochs,
        finetune_lr=1e-4,
        probe_lr=1e-3,
    ):
        start = time.perf_counter()
        frozen = ns["make_linear_probe"](make_backbone(), num_classes)
        ns["train_classifier"](frozen, train_loader, finetune_epochs, finetune_lr)
        tuned = {
            "accuracy": ns["accuracy"](frozen, val_loader),
            "seconds": time.perf_counter() - start,
            "model": frozen,
        }
        probe = _probe_entry(
            ns, make_backbone, train_loader, val_loader, num_classes, probe_epochs, probe_lr
        )
        return {"finetune": tuned, "linear_probe": probe}

    return compare_transfer


def q4_namespace() -> dict:
    ns = reference(*Q4_PARTS, "q4-compare")
    ns["__reference"] = ns["compare_transfer"]
    return ns


def test_compare_reference_passes():
    run_tests("q4-compare-tests", reference(*Q4_PARTS, "q4-compare"))


@pytest.mark.parametrize("make", [compare_own_loop, compare_probe_first])
def test_compare_alternatives_pass(make):
    ns = q4_namespace()
    run_tests("q4-compare-tests", answers(ns, compare_transfer=make(ns)))


@pytest.mark.parametrize(
    "make",
    [
        compare_shared_backbone,
        compare_probe_on_images,
        compare_training_accuracy,
        compare_untimed_extraction,
        compare_probe_twice,
    ],
)
def test_compare_wrong_answers_fail(make):
    ns = q4_namespace()
    with pytest.raises(CheckFailed):
        run_tests("q4-compare-tests", answers(ns, compare_transfer=make(ns)))


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
