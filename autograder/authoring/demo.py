"""``course demo``: build the releases, make example submissions, grade them, print the marks."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from nbgrader.utils import is_grade, is_solution

from autograder.authoring.notebooks import dumps, read_notebook
from autograder.course import COURSE_FILE, Course, CourseError, Lab, load_course
from autograder.review.restore import grade_id_of


def partial_submission(course: Course, lab: Lab):
    """The release with the answers up to the middle autograded question filled in from the source."""
    release = read_notebook(course.release_notebook(lab))
    source = {grade_id_of(c): c for c in read_notebook(course.source_notebook(lab)).cells if grade_id_of(c)}
    tests = [i for i, c in enumerate(release.cells) if is_grade(c) and not is_solution(c) and c.cell_type == "code"]
    if not tests:
        return release
    stop = tests[(len(tests) - 1) // 2]
    partial = copy.deepcopy(release)
    for cell in partial.cells[:stop]:
        gid = grade_id_of(cell)
        if gid and is_solution(cell) and gid in source:
            cell.source = source[gid].source
    return partial


def write_demo_submissions(course: Course, lab: Lab, folder: Path) -> list[str]:
    """Write reference, blank, partial and corrupt submissions for ``lab``; return their names."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reference.ipynb").write_text(course.source_notebook(lab).read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "blank.ipynb").write_text(course.release_notebook(lab).read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "partial.ipynb").write_text(dumps(partial_submission(course, lab)), encoding="utf-8")
    text = course.release_notebook(lab).read_text(encoding="utf-8")
    (folder / "corrupt.ipynb").write_text(text[: len(text) // 3], encoding="utf-8")
    return ["reference", "blank", "partial", "corrupt"]


def throwaway_course(course: Course, lab: Lab, root: Path) -> Course:
    """A copy of ``course`` in ``root`` holding only ``lab``'s source and release, so that the
    demo grades into ``root/grading`` (its own gradebook) and never into the course's own."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise CourseError(f"{root} is not empty: the demo course needs a new or empty folder")
    grading = (course.root / "grading").resolve()
    if grading == root.resolve() or grading in root.resolve().parents:
        raise CourseError(f"{root} is inside the course's grading folder: the demo never writes there")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(course.root / COURSE_FILE, root / COURSE_FILE)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(course.source_dir / lab.id, root / "solutions" / lab.id, ignore=ignore)
    shutil.copytree(course.release_dir / lab.id, root / "labs" / lab.id, ignore=ignore)
    return load_course(root)
