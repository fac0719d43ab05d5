"""course_utils.batches.DeviceBatches: every item once per pass, seeded shuffling, the device kept."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_utils.batches import DeviceBatches


def _data(n: int = 23):
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1).repeat(1, 3)  # row i holds i three times
    y = torch.arange(n)
    return x, y


@pytest.mark.parametrize(("n", "batch_size"), [(23, 5), (20, 5), (3, 10), (1, 1)])
def test_every_item_once_per_epoch_and_the_last_partial_batch(n, batch_size):
    x, y = _data(n)
    batches = DeviceBatches(x, y, batch_size, generator=torch.Generator().manual_seed(0))
    assert len(batches) == len(DataLoader(range(n), batch_size=batch_size))
    for _ in range(2):  # two epochs
        seen = list(batches)
        assert len(seen) == len(batches)
        sizes = [len(by) for _, by in seen]
        assert sizes[:-1] == [batch_size] * (len(seen) - 1)
        assert sizes[-1] == n - batch_size * (len(seen) - 1)
        labels = torch.cat([by for _, by in seen])
        assert sorted(labels.tolist()) == list(range(n))
        for bx, by in seen:  # x and y stay paired
            assert torch.equal(bx[:, 0].long(), by)


def test_drop_last_leaves_the_short_batch_out():
    x, y = _data(23)
    batches = DeviceBatches(x, y, 5, drop_last=True, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 4 == len(DataLoader(range(23), batch_size=5, drop_last=True))
    seen = list(batches)
    assert [len(by) for _, by in seen] == [5, 5, 5, 5]
    assert len(set(torch.cat([by for _, by in seen]).tolist())) == 20


def test_seeded_shuffling_repeats_and_differs_between_epochs_and_seeds():
    x, y = _data(50)

    def orders(seed, epochs=2):
        batches = DeviceBatches(x, y, 7, generator=torch.Generator().manual_seed(seed))
        return [torch.cat([by for _, by in batches]).tolist() for _ in range(epochs)]

    first, again, other = orders(0), orders(0), orders(1)
    assert first == again
    assert first[0] != first[1], "each epoch should draw a new order"
    assert first != other
    assert first[0] != list(range(50))


def test_no_shuffle_keeps_the_stored_order():
    x, y = _data(12)
    labels = torch.cat([by for _, by in DeviceBatches(x, y, 5, shuffle=False)]).tolist()
    assert labels == list(range(12))


def test_the_device_is_kept():
    x, y = _data(10)
    batches = DeviceBatches(x, y, 4, device="cpu")
    assert batches.device == torch.device("cpu")
    for bx, by in batches:
        assert bx.device == batches.device and by.device == batches.device
    if torch.cuda.is_available():  # on a machine with a GPU: the data go there and stay
        on_gpu = DeviceBatches(x, y, 4, device="cuda", generator=torch.Generator().manual_seed(0))
        assert on_gpu.x.is_cuda and all(bx.is_cuda and by.is_cuda for bx, by in on_gpu)
        cpu_order = torch.cat([by for _, by in DeviceBatches(x, y, 4, generator=torch.Generator().manual_seed(0))])
        gpu_order = torch.cat([by for _, by in DeviceBatches(x, y, 4, device="cuda",
                                                             generator=torch.Generator().manual_seed(0))])
        assert torch.equal(cpu_order, gpu_order.cpu()), "one seed should give one order on every device"


def test_from_dataset_reads_a_tensor_dataset_or_any_dataset():
    x, y = _data(9)
    direct = DeviceBatches.from_dataset(TensorDataset(x, y), 4, shuffle=False)
    assert direct.x is x or torch.equal(direct.x, x)
    items = [(x[i], int(y[i])) for i in range(9)]
    stacked = DeviceBatches.from_dataset(items, 4, shuffle=False)
    assert torch.equal(stacked.x, x) and torch.equal(stacked.y, y) and len(stacked) == 3


def test_mismatched_lengths_and_bad_batch_size_are_refused():
    x, y = _data(5)
    with pytest.raises(ValueError, match="different numbers"):
        DeviceBatches(x, y[:4], 2)
    with pytest.raises(ValueError, match="positive"):
        DeviceBatches(x, y, 0)


def test_torchbearer_trial_trains_on_device_batches():
    import torchbearer
    from torch import nn
    from torchbearer import Trial

    torch.manual_seed(0)
    x, y = torch.randn(90, 1, 28, 28), torch.randint(0, 10, (90,))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.ReLU(), nn.Linear(8, 10))
    trial = Trial(model, torch.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), metrics=["loss", "acc"]).to("cpu")
    train = DeviceBatches(x, y, 32, generator=torch.Generator().manual_seed(0))
    trial.with_generators(train_generator=train, val_generator=DeviceBatches(x, y, 45, shuffle=False))
    history = trial.run(epochs=2, verbose=0)
    assert len(history) == 2 and {"loss", "acc", "val_loss", "val_acc"} <= set(history[-1])
    metrics = trial.evaluate(data_key=torchbearer.VALIDATION_DATA, verbose=0)
    assert 0.0 <= metrics["val_acc"] <= 1.0
