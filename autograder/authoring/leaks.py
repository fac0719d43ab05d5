"""Finding instructor-only text (solutions, hidden tests, mark schemes) where students could see it.

The secrets of a lab are the regions nbgrader strips from the release: text between the
``BEGIN/END SOLUTION``, ``BEGIN/END HIDDEN TESTS`` and ``BEGIN/END MARK SCHEME`` markers, and
the whole source of a solution cell that has no markers. Text is compared with whitespace
collapsed, so re-indentation or JSON line splitting does not hide a leak; notebooks are
compared by their cells' sources and outputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course
from autograder.authoring.notebooks import read_notebook

MARKERS = {
    "solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
    "hidden test": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
    "mark scheme": ("### BEGIN MARK SCHEME", "### END MARK SCHEME"),
}
MIN_CHARS = 10  # shorter snippets ("pass", "x + 1") are too common to call a leak


@dataclass(frozen=True)
class Secret:
    """One instructor-only region of a source notebook."""

    kind: str  # "solution", "hidden test" or "mark scheme"
    where: str  # "<lab>/<notebook> cell <id>"
    text: str

    @property
    def normalised(self) -> str:
        """The text with all whitespace runs collapsed to one space."""
        return normalise(self.text)


@dataclass(frozen=True)
class Leak:
    """A secret found in a file."""

    path: str
    secret: Secret


def normalise(text: str) -> str:
    """Collapse whitespace so layout changes do not hide a match."""
    return " ".join(text.split())


def _regions(source: str, begin: str, end: str) -> list[str]:
    pattern = re.compile(rf"^[ \t]*{re.escape(begin)}[^\n]*\n(.*?)^[ \t]*{re.escape(end)}", re.DOTALL | re.MULTILINE)
    return [match.group(1) for match in pattern.finditer(source)]


def notebook_secrets(nb, where: str) -> list[Secret]:
    """Every solution, hidden-test and mark-scheme region of a source notebook."""
    secrets: list[Secret] = []
    for index, cell in enumerate(nb.cells):
        source = cell.get("source", "")
        cell_where = f"{where} cell {cell.get('id', index)}"
        found = False
        for kind, (begin, end) in MARKERS.items():
            for region in _regions(source, begin, end):
                found = True
                if region.strip():
                    secrets.append(Secret(kind, cell_where, region))
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and not found and source.strip():
            secrets.append(Secret("solution", cell_where, source))
    return secrets


def course_secrets(course: Course) -> list[Secret]:
    """The secrets of every lab listed in course.toml."""
    secrets: list[Secret] = []
    for lab in course.labs:
        nb = read_notebook(course.source_notebook(lab))
        secrets += notebook_secrets(nb, f"{lab.id}/{lab.notebook}")
    return secrets


def secret_lines(secrets: Iterable[Secret], min_chars: int = MIN_CHARS) -> list[str]:
    """Each distinctive line of the secrets (normalised), for finding partial leaks in short texts."""
    lines = set()
    for secret in secrets:
        for line in secret.text.splitlines():
            text = normalise(line)
            if len(text) >= min_chars and not text.startswith(("#", "import ", "from ")):  # imports give nothing away
                lines.add(text)
    return sorted(lines)


def readable_text(path: Path) -> str | None:
    """A file's text as a student would read it (a notebook's sources and outputs); None for binaries."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    text = data.decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(text)
        except json.JSONDecodeError:
            return text
        parts = [text]
        for cell in nb.get("cells", []):
            parts.append(_joined(cell.get("source", "")))
            for output in cell.get("outputs", []):
                parts.append(_joined(output.get("text", "")))
                for value in output.get("data", {}).values():
                    parts.append(_joined(value) if isinstance(value, (str, list)) else "")
        return "\n".join(parts)
    return text


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def find_leaks(folder: Path, secrets: Iterable[Secret], min_chars: int = MIN_CHARS) -> list[Leak]:
    """Every (file, secret) pair where a secret region appears in a file under ``folder``."""
    wanted = [s for s in secrets if len(s.normalised) >= min_chars]
    leaks: list[Leak] = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and ".git" not in p.parts):
        text = readable_text(path)
        if text is None:
            continue
        flat = normalise(text)
        for secret in wanted:
            if secret.normalised in flat:
                leaks.append(Leak(path.relative_to(folder).as_posix(), secret))
    return leaks


def redact(message: str, lines: Iterable[str]) -> str:
    """``message``, or a neutral note when it quotes a line of a solution or hidden test."""
    flat = normalise(message)
    if any(line in flat for line in lines):
        return "the hidden tests found a problem here (details withheld: compare with the visible checks)"
    return message
