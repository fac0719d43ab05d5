"""Mini-batches from tensors that already live on the device, without a DataLoader.

A ``DataLoader`` over a ``TensorDataset`` fetches every item one at a time, stacks them on the
CPU and then copies the batch to the device: for a small model that bookkeeping, not the
arithmetic, sets the pace (a few hundred batches per second). When the whole data set fits in
the device's memory (MNIST as float32 is 188 MB) it is quicker to copy it there once and cut
batches out of it by indexing with a shuffled permutation.

:class:`DeviceBatches` does that. It is an iterable with a length, so it can stand wherever a
``DataLoader`` is iterated: in a hand-written loop, in ``evaluate``, or as a Torchbearer
generator (``trial.with_generators(train_generator=DeviceBatches(...))``). Its shuffling is
drawn from a ``torch.Generator``, so a seeded generator gives the same order on every run and
on every device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["DeviceBatches"]


class DeviceBatches:
    """Shuffled ``(x, y)`` mini-batches cut from tensors kept on ``device``.

    ``x`` and ``y`` hold one item per row (the same number of rows). Each pass (``iter``)
    visits every item once: in a fresh random order drawn from ``generator`` when ``shuffle``
    is true, in stored order otherwise. The last batch is smaller when the number of items is
    not a multiple of ``batch_size``, unless ``drop_last`` is true, which leaves it out, as a
    ``DataLoader`` does.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        drop_last: bool = False,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y hold different numbers of items: {len(x)} and {len(y)}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.device = torch.device(device) if device is not None else x.device
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last

    @classmethod
    def from_dataset(cls, dataset, batch_size: int, **kwargs) -> DeviceBatches:
        """Read every ``(x, y)`` item of ``dataset`` once (any map-style dataset) and keep them stacked.

        A ``TensorDataset`` is used as it is, without a copy item by item.
        """
        tensors = getattr(dataset, "tensors", None)
        if tensors is not None and len(tensors) == 2:
            x, y = tensors
        else:
            items = [dataset[i] for i in range(len(dataset))]
            x = torch.stack([torch.as_tensor(item[0]) for item in items])
            y = torch.as_tensor([int(item[1]) for item in items])
        return cls(x, y, batch_size, **kwargs)

    def __len__(self) -> int:
        """The number of batches in one pass."""
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            # Drawn where the generator lives (normally the CPU, so one seed gives one order on any device).
            where = self.generator.device if self.generator is not None else "cpu"
            order = torch.randperm(n, generator=self.generator, device=where).to(self.device)
        else:
            order = None
        for b in range(len(self)):
            start, stop = b * self.batch_size, min((b + 1) * self.batch_size, n)
            if order is None:
                yield self.x[start:stop], self.y[start:stop]
            else:
                index = order[start:stop]
                yield self.x[index], self.y[index]

    def __repr__(self) -> str:
        return (f"DeviceBatches({len(self.x)} items, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"device={self.device}, {len(self)} batches)")
