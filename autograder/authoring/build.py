"""``course build``: the student releases in ``labs/`` and ``colab_links.md``, from ``solutions/``."""

from __future__ import annotations

import filecmp
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder.course import Course, Lab
from autograder.authoring.notebooks import clear_outputs, dumps, read_notebook, release_version

COLAB_LINKS = "colab_links.md"
HEADER_IDS = ("colab-badge", "colab-setup")
IGNORED = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}


def colab_url(course: Course, lab: Lab) -> str:
    """The address that opens a lab's student notebook in Google Colab."""
    path = f"labs/{lab.id}/{lab.notebook}"
    return f"https://colab.research.google.com/github/{course.public_repo}/blob/{course.public_ref}/{path}"


def badge_markdown(course: Course, lab: Lab) -> str:
    """Markdown for a lab's "Open in Colab" badge."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(course, lab)})"


DEFAULT_DISTRIBUTION = "deep-learning-labs"


def distribution_name(course: Course) -> str:
    """The pip name students install on Colab: the course repository's ``[project] name``."""
    path = course.root / "pyproject.toml"
    if path.is_file():
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("name")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_DISTRIBUTION


def header_cells(course: Course, lab: Lab) -> list:
    """The two cells every release starts with: the Colab badge and the Colab-only install."""
    badge = new_markdown_cell(badge_markdown(course, lab))
    badge["id"] = HEADER_IDS[0]
    setup = new_code_cell(
        "# On Google Colab, install the course helpers first; elsewhere they are already installed.\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "{distribution_name(course)} @ git+https://github.com/{course.public_repo}@{course.public_ref}"'
    )
    setup["id"] = HEADER_IDS[1]
    return [badge, setup]


def render_release(course: Course, lab: Lab) -> str:
    """The text of a lab's student notebook, built from its source."""
    source = read_notebook(course.source_notebook(lab))
    release = clear_outputs(release_version(source, lab.id, lab.notebook_id))
    release.cells = header_cells(course, lab) + [c for c in release.cells if c.get("id") not in HEADER_IDS]
    return dumps(release)


def render_colab_links(course: Course) -> str:
    """The text of ``colab_links.md``: one badge per lab."""
    lines = [f"# {course.title}", "", "Open a lab in Google Colab:", "", "| lab | title | open |", "| --- | --- | --- |"]
    for lab in course.labs:
        lines.append(f"| {lab.number:02d} | {lab.title} | {badge_markdown(course, lab)} |")
    return "\n".join(lines) + "\n"


def _data_files(folder: Path, notebook: str) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != notebook and not IGNORED & set(path.relative_to(folder).parts):
            files.append(path)
    return files


@dataclass(frozen=True)
class BuildReport:
    """What ``build`` wrote, or (with ``check``) what differs from the committed files."""

    written: list[str]
    differences: list[str]


def build(course: Course, check: bool = False, labs: list[Lab] | None = None) -> BuildReport:
    """Write the releases (of ``labs``, default all) and the Colab links; ``check`` only compares."""
    written: list[str] = []
    differences: list[str] = []

    def emit(path: Path, text: str) -> None:
        rel = str(path.relative_to(course.root))
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            return
        if check:
            differences.append(f"{rel} is {'missing' if current is None else 'out of date'}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(rel)

    for lab in course.labs if labs is None else labs:
        emit(course.release_notebook(lab), render_release(course, lab))
        source_folder = course.source_notebook(lab).parent
        for data in _data_files(source_folder, lab.notebook):
            target = course.release_dir / lab.id / data.relative_to(source_folder)
            if target.is_file() and filecmp.cmp(data, target, shallow=False):
                continue
            if check:
                differences.append(f"{target.relative_to(course.root)} differs from its source")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(data, target)
                written.append(str(target.relative_to(course.root)))
    emit(course.root / COLAB_LINKS, render_colab_links(course))
    known = {lab.id for lab in course.labs}
    if course.release_dir.is_dir():
        for folder in sorted(course.release_dir.iterdir()):
            if folder.is_dir() and folder.name not in known:
                differences.append(f"labs/{folder.name} has no entry in course.toml (delete it or add the lab)")
    return BuildReport(written, differences)
