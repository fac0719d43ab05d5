"""The course description (``course.toml``): the one list of labs everything else reads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import tomllib

from autograder.record.latepolicy import LatePolicy, parse_late_policy

COURSE_FILE = "course.toml"
_LAB_ID = re.compile(r"^lab\d{2}_[a-z0-9_]+$")
_LAB_NAME = re.compile(r"^(?:lab)?(\d{1,2})$")  # lab03, lab3, 03, 3: a lab by its number


class CourseError(ValueError):
    """The course description is missing or malformed."""


@dataclass(frozen=True)
class Lab:
    """One lab: an nbgrader assignment holding one notebook."""

    id: str
    title: str
    notebook: str
    # Late policy: optional keys of a [[labs]] entry, parsed and explained in latepolicy.py.
    late: LatePolicy = LatePolicy()
    # Datasets the lab reads (names in course_utils.data.registry), readied before grading.
    data: tuple[str, ...] = ()

    @property
    def notebook_id(self) -> str:
        """nbgrader's name for the lab's notebook: its file name without ``.ipynb``."""
        return self.notebook.removesuffix(".ipynb")

    @property
    def number(self) -> int:
        """The lab's number, from its id (``lab04_x`` -> 4)."""
        return int(self.id[3:5])


@dataclass(frozen=True)
class Course:
    """The parsed course description and the repository root it was read from."""

    root: Path
    id: str
    title: str
    public_repo: str
    public_ref: str
    labs: tuple[Lab, ...]

    @property
    def source_dir(self) -> Path:
        """The nbgrader source directory (reference solutions)."""
        return self.root / "solutions"

    @property
    def release_dir(self) -> Path:
        """The student releases, generated from the sources."""
        return self.root / "labs"

    def lab(self, lab_id: str) -> Lab:
        """Return the lab named ``lab_id``: its full id (``lab03_optimisation``), ``lab03``,
        ``lab3``, ``03`` or ``3`` (case and surrounding spaces ignored)."""
        name = str(lab_id).strip().lower()
        number = _LAB_NAME.match(name)
        for lab in self.labs:
            if lab.id == name or (number and lab.number == int(number.group(1))):
                return lab
        known = ", ".join(lab.id for lab in self.labs)
        raise CourseError(
            f"no lab {lab_id!r} in {COURSE_FILE}; name a lab by its id, 'labNN' or its number; the labs are: {known}"
        )

    def source_notebook(self, lab: Lab) -> Path:
        """Path of a lab's source notebook."""
        return self.source_dir / lab.id / lab.notebook

    def release_notebook(self, lab: Lab) -> Path:
        """Path of a lab's student notebook."""
        return self.release_dir / lab.id / lab.notebook


def find_root(start: Path | None = None) -> Path:
    """Return the nearest directory at or above ``start`` (default: cwd) holding course.toml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / COURSE_FILE).is_file():
            return directory
    raise CourseError(f"no {COURSE_FILE} found in {here} or any parent directory; run from the course repository")


def _data_names(path: Path, entry: dict) -> tuple[str, ...]:
    """The lab's ``data = [...]`` list, checked against the datasets course_utils knows."""
    from course_utils.data.registry import entries, unknown_names

    names = entry.get("data", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CourseError(f"{path}: lab {entry['id']}: data must be a list of dataset names")
    unknown = unknown_names(names)
    if unknown:
        raise CourseError(
            f"{path}: lab {entry['id']}: unknown dataset(s) {unknown}; known: {', '.join(sorted(entries()))}"
        )
    return tuple(names)


def load_course(root: Path | None = None) -> Course:
    """Read and check ``course.toml`` under ``root`` (default: found from the cwd)."""
    root = find_root() if root is None else Path(root).resolve()
    path = root / COURSE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CourseError(f"{path} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{path} is not valid TOML: {error}") from error
    meta = data.get("course", {})
    for key in ("id", "title", "public_repo"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise CourseError(f"{path}: [course] needs a non-empty string '{key}'")
    labs = []
    for entry in data.get("labs", []):
        missing = [k for k in ("id", "title", "notebook") if not isinstance(entry.get(k), str)]
        if missing:
            raise CourseError(f"{path}: a [[labs]] entry lacks {missing}: {entry}")
        if not _LAB_ID.match(entry["id"]):
            raise CourseError(f"{path}: lab id {entry['id']!r} must look like 'lab01_topic'")
        if not entry["notebook"].endswith(".ipynb") or "/" in entry["notebook"]:
            raise CourseError(f"{path}: lab {entry['id']}: notebook must be a plain *.ipynb file name")
        try:
            late = parse_late_policy(entry)
        except ValueError as error:
            raise CourseError(f"{path}: lab {entry['id']}: {error}") from error
        labs.append(Lab(entry["id"], entry["title"], entry["notebook"], late, _data_names(path, entry)))
    ids = [lab.id for lab in labs]
    if len(set(ids)) != len(ids):
        raise CourseError(f"{path}: duplicate lab ids in {ids}")
    return Course(root, meta["id"], meta["title"], meta["public_repo"], meta.get("public_ref", "main"), tuple(sorted(labs, key=lambda lab: lab.id)))
