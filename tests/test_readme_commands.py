"""Every ``course`` command line of the README's instructor block, verbatim, against a toy
course whose lab has the README's lab id (``lab03_optimisation``): each parses and resolves
its lab, and the cheap ones (build, validate, publish, roster, collect, grade, status,
feedback, export) run for real in the order the README gives them."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from toy_course import make_course
from workflow_helpers import fresh_gradebook

from autograder.cli import build_parser, main
from autograder.course import CourseError, load_course

REPO = Path(__file__).resolve().parents[1]
LAB_ID = "lab03_optimisation"
NOTEBOOK = "lab03_optimisation.ipynb"


def readme_instructor_commands() -> list[str]:
    """The ``course ...`` command lines of the README's bash block under "For instructors"."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## For instructors", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the README's instructor section has no ```bash block"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        for part in line.split("&&"):
            part = part.strip()
            if part.startswith("course "):
                commands.append(part)
    return commands


def make_readme_course(root: Path) -> Path:
    """The toy lab (tests/toy_course.py) under the README's lab id."""
    return make_course(root, LAB_ID, NOTEBOOK, "Optimisation (toy)")


def _argv(command: str) -> list[str]:
    """The argument vector a shell would pass (``~`` expanded), without the leading ``course``."""
    words = [os.path.expanduser(w) if w.startswith("~") else w for w in shlex.split(command)]
    assert words[0] == "course"
    return words[1:]


def _resolved_labs(course, args) -> list[str]:
    names = [args.lab] if getattr(args, "lab", None) else list(getattr(args, "labs", None) or [])
    return [course.lab(name).id for name in names]


@pytest.mark.parametrize("name", ["lab03_optimisation", "lab03", "LAB03", "lab3", "03", "3", " 3 "])
def test_every_form_of_a_lab_name_resolves(tmp_path, name):
    course = load_course(make_readme_course(tmp_path / "c"))
    assert course.lab(name).id == LAB_ID


@pytest.mark.parametrize("name", ["lab04", "4", "lab03_other", "optimisation", "lab", ""])
def test_an_unknown_lab_name_is_a_clear_error(tmp_path, name):
    course = load_course(make_readme_course(tmp_path / "c"))
    with pytest.raises(CourseError, match="the labs are: lab03_optimisation"):
        course.lab(name)


def test_readme_commands_parse_and_resolve_their_lab(tmp_path):
    course = load_course(make_readme_course(tmp_path / "c"))
    commands = readme_instructor_commands()
    assert len(commands) >= 7, commands
    parser = build_parser()
    named = 0
    for command in commands:
        args = parser.parse_args(_argv(command))
        labs = _resolved_labs(course, args)
        assert all(lab == LAB_ID for lab in labs), command
        named += bool(labs)
    assert named >= 6  # validate, collect, grade, status, feedback --preview, feedback --zip name lab03


def _zip_of_submissions(path: Path, release: nbformat.NotebookNode) -> None:
    good = nbformat.writes(release).replace("raise NotImplementedError()", "return x + x", 1)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Ana Garcia_1001_assignsubmission_file_/lab03_optimisation.ipynb", good)
        archive.writestr("Bob Smith_1002_assignsubmission_file_/lab03_optimisation.ipynb", nbformat.writes(release))


def test_readme_commands_run_verbatim(tmp_path, monkeypatch):
    """The README's instructor block, run command by command from the course folder."""
    root = make_readme_course(tmp_path / "course")
    # What `course publish` packages: the repository's pyproject.toml and course_utils.
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(REPO / "course_utils", root / "course_utils", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    fresh_gradebook(root)
    monkeypatch.chdir(root)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BROWSER", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    (root / "participants.csv").write_text(
        "id,first_name,last_name,email\ns001,Ana,Garcia,ana@uni.example\ns002,Bob,Smith,bob@uni.example\n", encoding="utf-8"
    )
    outputs: dict[str, tuple[int, str]] = {}
    for command in readme_instructor_commands():
        argv = _argv(command)
        if argv[0] == "collect":  # the LMS download the README names, made from the built release
            download = Path(argv[2])
            download.parent.mkdir(parents=True, exist_ok=True)
            course = load_course(root)
            _zip_of_submissions(download, nbformat.read(course.release_notebook(course.labs[0]), as_version=4))
        if argv[0] in ("grade", "validate"):
            argv += ["--quiet", "--workers", "1"]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = main(argv)
        outputs[command] = (code, buffer.getvalue())
        assert "no lab" not in buffer.getvalue(), (command, buffer.getvalue())

    def result(prefix: str) -> tuple[int, str]:
        return next(v for k, v in outputs.items() if k.startswith(prefix))

    assert result("course build")[0] == 0
    code, text = result("course validate lab03")
    assert code == 0 and f"ok   {LAB_ID}" in text, text
    code, text = result("course publish")
    assert code == 0 and (tmp_path / "dl-labs-public" / "labs" / LAB_ID / NOTEBOOK).is_file(), text
    assert result("course roster import")[0] == 0
    code, text = result("course collect lab03")
    assert code in (0, 1) and "s001" in text and "s002" in text, text
    code, text = result("course grade lab03")
    assert code == 0 and "s001" in text, text
    assert (root / "grading" / "marks" / f"{LAB_ID}.csv").is_file()
    code, text = result("course status lab03")
    assert code == 0 and "collected" in text and "graded" in text, text
    code, text = result("course feedback lab03 --preview")
    assert code == 0 and Path(text.strip()).is_file() and "s001" in text, text
    code, text = result("course feedback lab03 --zip")
    assert code in (0, 1) and "2 feedback pages" in text, text  # 1: the written answers wait for manual marks
    assert len(list((root / "grading" / "feedback-zips" / LAB_ID).glob("*.zip"))) == 2
    code, text = result("course export")
    assert (root / "grading" / "export" / "moodle_grades.csv").is_file(), text
