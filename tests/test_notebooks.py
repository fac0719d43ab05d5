import json

import nbformat
import pytest

from autograder.authoring.notebooks import NotebookError, grading_template, read_notebook, release_version

from toy_course import source_notebook


def test_release_removes_solutions_and_hidden_tests():
    release = release_version(source_notebook(), "lab01_toy", "lab01_toy")
    text = "\n".join(c.source for c in release.cells)
    assert "return 2 * x" not in text and "raise NotImplementedError()" in text
    assert "def probe(seed)" not in text and "double(1) == 2" in text
    assert "same sign" not in text and "YOUR ANSWER HERE" in text


def test_template_keeps_hidden_tests_but_not_solutions():
    template = grading_template(source_notebook(), "lab01_toy", "lab01_toy")
    text = "\n".join(c.source for c in template.cells)
    assert "def probe(seed)" in text
    assert "return 2 * x" not in text


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b'{"cells": [', "not valid notebook JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"hello": 1}', "not a Jupyter notebook"),
        (b"[1, 2, 3]", "not a Jupyter notebook"),
    ],
)
def test_bad_files_get_a_clear_reason(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError, match=reason):
        read_notebook(path, name="alice.ipynb")


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(NotebookError, match="no such file"):
        read_notebook(tmp_path / "nope.ipynb")
    big = tmp_path / "big.ipynb"
    big.write_bytes(b" " * 2048)
    with pytest.raises(NotebookError, match="larger than"):
        read_notebook(big, max_bytes=1024)


def test_nbformat_v3_is_upgraded(tmp_path):
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": [], "language": "python", "metadata": {}}]}],
    }
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    nb = read_notebook(path)
    assert nb.nbformat == 4 and nb.cells[0].source == "x = 1"


def test_message_names_the_students_file(tmp_path):
    path = tmp_path / "copy.ipynb"
    path.write_text("{")
    with pytest.raises(NotebookError, match="^bob.ipynb:"):
        read_notebook(path, name="bob.ipynb")


def test_roundtrip_of_a_valid_notebook(tmp_path):
    path = tmp_path / "ok.ipynb"
    nbformat.write(source_notebook(), path)
    assert len(read_notebook(path).cells) == len(source_notebook().cells)
