from pathlib import Path

import pytest

from autograder.course import CourseError, find_root, load_course

from conftest import REPO


def test_loads_the_real_course_description():
    course = load_course(REPO)
    assert course.labs, "course.toml lists no labs"
    assert all(course.source_notebook(lab).is_file() for lab in course.labs)
    assert [lab.id for lab in course.labs] == sorted(lab.id for lab in course.labs)
    assert course.lab("lab04_neural_networks").data == ("mnist",)


def test_every_lab_is_worth_the_same_points():
    import nbformat

    course = load_course(REPO)
    totals = {}
    for lab in course.labs:
        cells = nbformat.read(course.source_notebook(lab), as_version=4).cells
        totals[lab.id] = sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert set(totals.values()) == {20}, totals


def test_lab_lookup_by_id_or_number(toy_root):
    course = load_course(toy_root)
    assert course.lab("lab01_toy").id == "lab01_toy"
    assert course.lab("1").id == course.lab("01").id == "lab01_toy"
    with pytest.raises(CourseError, match="the labs are: lab01_toy"):
        course.lab("lab99_nope")


def test_find_root_walks_up(toy_root):
    nested = toy_root / "solutions" / "lab01_toy"
    assert find_root(nested) == toy_root.resolve()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[course\n", "not valid TOML"),
        ('[course]\nid = "x"\ntitle = "t"\n', "public_repo"),
        ('[course]\nid="x"\ntitle="t"\npublic_repo="a/b"\n[[labs]]\nid="Lab1"\ntitle="t"\nnotebook="a.ipynb"\n', "must look like"),
        ('[course]\nid="x"\ntitle="t"\npublic_repo="a/b"\n[[labs]]\nid="lab01_a"\ntitle="t"\nnotebook="a.py"\n', "plain \\*.ipynb"),
        ('[course]\nid="x"\ntitle="t"\npublic_repo="a/b"\n[[labs]]\nid="lab01_a"\ntitle="t"\n', "lacks"),
        (
            '[course]\nid="x"\ntitle="t"\npublic_repo="a/b"\n'
            '[[labs]]\nid="lab01_a"\ntitle="t"\nnotebook="a.ipynb"\n[[labs]]\nid="lab01_a"\ntitle="t"\nnotebook="a.ipynb"\n',
            "duplicate",
        ),
        (
            '[course]\nid="x"\ntitle="t"\npublic_repo="a/b"\n[[labs]]\nid="lab01_a"\ntitle="t"\nnotebook="a.ipynb"\ndata=["mnist", "imagenet21k"]\n',
            r"unknown dataset\(s\) \['imagenet21k'\]",
        ),
        (
            '[course]\nid="x"\ntitle="t"\npublic_repo="a/b"\n[[labs]]\nid="lab01_a"\ntitle="t"\nnotebook="a.ipynb"\ndata="mnist"\n',
            "data must be a list",
        ),
    ],
)
def test_malformed_descriptions_are_explained(tmp_path: Path, text, message):
    (tmp_path / "course.toml").write_text(text)
    with pytest.raises(CourseError, match=message):
        load_course(tmp_path)
