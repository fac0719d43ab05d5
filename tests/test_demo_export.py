"""``course demo`` grades in a throwaway copy of the course and never touches grading/;
``course export`` counts only the labs graded so far in ``total_max``."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from toy_course import LAB_ID, make_course
from workflow_helpers import fresh_gradebook

from autograder.authoring.build import build
from autograder.authoring.demo import write_demo_submissions
from autograder.cli import main
from autograder.course import load_course


def _two_labs(root: Path) -> Path:
    """The toy course with a second lab (a copy of the first) that nobody has been graded in."""
    make_course(root)
    shutil.copytree(root / "solutions" / LAB_ID, root / "solutions" / "lab02_toy")
    (root / "solutions" / "lab02_toy" / "lab01_toy.ipynb").rename(root / "solutions" / "lab02_toy" / "lab02_toy.ipynb")
    with open(root / "course.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[[labs]]\nid = "lab02_toy"\ntitle = "Toy 2"\nnotebook = "lab02_toy.ipynb"\n')
    return root


def test_demo_grades_in_a_throwaway_course(tmp_path, capsys):
    root = _two_labs(tmp_path / "toy")
    keep = tmp_path / "kept-demo"
    assert main(["--root", str(root), "demo", "--quiet", "--workers", "2", "--lab", "1", "--dir", str(keep)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "5/5" in lines["reference"] and "0/5" in lines["blank"] and "rejected" in lines["corrupt"]
    assert not (root / "grading").exists(), "the demo wrote into the course's own grading/ folder"
    assert (keep / "grading" / "gradebook.db").is_file() and "untouched" in out
    # Without --dir, nothing is kept anywhere and grading/ is still untouched.
    assert main(["--root", str(root), "demo", "--quiet", "--workers", "2"]) == 0
    assert not (root / "grading").exists()
    assert "throwaway course, now deleted" in capsys.readouterr().out
    # The demo refuses to put its course inside grading/.
    assert main(["--root", str(root), "demo", "--quiet", "--dir", str(root / "grading" / "demo")]) == 2
    assert "grading folder" in capsys.readouterr().err


def test_export_total_max_counts_only_graded_labs(tmp_path, capsys):
    root = _two_labs(tmp_path / "toy")
    course = load_course(root)
    build(course)
    fresh_gradebook(root)
    folder = tmp_path / "subs"
    write_demo_submissions(course, course.lab("1"), folder)
    assert main(["--root", str(root), "grade", "lab01", str(folder), "--quiet", "--workers", "2"]) == 0
    main(["--root", str(root), "export"])
    rows = {r["student_id"]: r for r in csv.DictReader((root / "grading" / "export" / "marks_full.csv").open(encoding="utf-8"))}
    assert rows["reference"][f"{LAB_ID}_max"] == "6" and rows["reference"]["lab02_toy_max"] == "6"
    assert rows["reference"]["lab02_toy_status"] == "no submission"
    assert {r["total_max"] for r in rows.values()} == {"6"}, "an ungraded lab counted in total_max"
