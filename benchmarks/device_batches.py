"""Benchmark: mini-batches from a DataLoader against course_utils.batches.DeviceBatches.

    .venv/bin/python benchmarks/device_batches.py [--device cpu] [--batch-size 64] [--threads 1]

Feeds one epoch of MNIST-sized random data (60,000 images of 1x28x28, float32) to a tiny MLP
(784 -> 32 -> 10, one Adam step per batch) and prints batches per second for
(1) ``DataLoader(TensorDataset(x, y), shuffle=True)`` with batches moved to the device,
(2) ``DeviceBatches`` over the same tensors kept on the device, and the same two without the
training step (data only). Not a test: figures only. Random data, so no download.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.batches import DeviceBatches


def rate(batches, device, model=None, optimiser=None) -> float:
    """Batches per second over one full pass of ``batches`` (optionally training on them)."""
    count = 0
    start = time.perf_counter()
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        if model is not None:
            loss = nn.functional.cross_entropy(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        count += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=60_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(args.n, 1, 28, 28, generator=g), torch.randint(0, 10, (args.n,), generator=g)
    print(f"{args.n:,} items, batch size {args.batch_size}, device {device}, {args.threads} thread(s)")
    sources = {
        "DataLoader(TensorDataset)": lambda: DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True,
                                                        generator=torch.Generator().manual_seed(0)),
        "DeviceBatches": lambda: DeviceBatches(x, y, args.batch_size, generator=torch.Generator().manual_seed(0),
                                               device=device),
    }
    for train in (False, True):
        for name, make in sources.items():
            batches = make()
            model = optimiser = None
            if train:
                torch.manual_seed(0)
                model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)).to(device)
                optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
            per_second = rate(batches, device, model, optimiser)
            what = "with an MLP step" if train else "data only"
            print(f"{name:28s} {what:18s} {per_second:10,.0f} batches/s")


if __name__ == "__main__":
    main()
