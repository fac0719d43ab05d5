"""The class list: reading an LMS roster CSV, storing it in nbgrader's gradebook, matching names.

A roster CSV needs a student id column and either first/last name columns or one full-name
column; an email column is optional. Header names are matched loosely ("ID number",
"student_id", "First name", "Surname", "Email address", ...), the delimiter is detected
(comma, semicolon or tab) and a UTF-8 byte-order mark is ignored, so exports from Moodle and
spreadsheets load as they are.
"""

from __future__ import annotations

import csv
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SAWarning

from autograder.record.gradebook import open_gradebook
from autograder.layout import ensure_db_folder

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
COLUMNS = {
    "id": ("id", "student id", "student_id", "studentid", "id number", "idnumber", "id_number", "username", "user id", "matriculation number"),
    "first_name": ("first name", "first_name", "firstname", "given name", "given_name", "forename"),
    "last_name": ("last name", "last_name", "lastname", "surname", "family name", "family_name"),
    "name": ("name", "full name", "full_name", "fullname", "student name", "student"),
    "email": ("email", "email address", "e-mail", "e-mail address", "mail"),
}


class RosterError(ValueError):
    """A roster file that cannot be read as a class list; the message says why."""


@dataclass(frozen=True)
class RosterEntry:
    """One student of the class."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    @property
    def full_name(self) -> str:
        """First and last name, as an LMS shows them."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass
class RosterFile:
    """The entries read from a roster CSV and the rows that were skipped, with reasons."""

    entries: list[RosterEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def normalise_name(name: str) -> str:
    """A name folded for matching: no accents, case or punctuation, single spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("ß", "ss").replace("ø", "o").replace("Ø", "o").replace("ł", "l").replace("Ł", "l")
    words = re.sub(r"[^\w]+", " ", plain.casefold()).split()
    return " ".join(words)


def _column_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        key = " ".join(raw.strip().lower().replace("_", " ").split())
        for column, aliases in COLUMNS.items():
            if column not in found and key in {a.replace("_", " ") for a in aliases}:
                found[column] = index
    return found


def read_roster(path: Path) -> RosterFile:
    """Read a roster CSV; rows that cannot be used are listed in ``problems``, never fatal."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"roster file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    if not text.strip():
        raise RosterError(f"{path.name}: the roster file is empty")
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(text.splitlines(), dialect))
    columns = _column_map(rows[0])
    if "id" not in columns:
        raise RosterError(f"{path.name}: no student id column (expected one of: id, student_id, ID number, username); header is {rows[0]}")
    if "name" not in columns and not ({"first_name", "last_name"} & set(columns)):
        raise RosterError(f"{path.name}: no name columns (first_name and last_name, or name); header is {rows[0]}")
    roster = RosterFile()
    seen: dict[str, int] = {}

    def cell(row: list[str], column: str) -> str:
        index = columns.get(column)
        return row[index].strip() if index is not None and index < len(row) else ""

    for number, row in enumerate(rows[1:], start=2):
        if not any(value.strip() for value in row):
            continue
        student = cell(row, "id")
        if not _ID.match(student):
            roster.problems.append(f"line {number}: student id {student!r} is empty or has characters other than letters, digits and _.@+-: row skipped")
            continue
        if student in seen:
            roster.problems.append(f"line {number}: student id {student} already on line {seen[student]}: row skipped")
            continue
        first, last = cell(row, "first_name"), cell(row, "last_name")
        if not (first or last) and cell(row, "name"):
            first, _, last = cell(row, "name").rpartition(" ")
            if not first:
                first, last = last, ""
        seen[student] = number
        roster.entries.append(RosterEntry(student, first, last, cell(row, "email")))
    return roster


def _inert(name: str) -> str:
    """A name without the two characters that make markup, ``<`` and ``>`` (no real name has them)."""
    return name.replace("<", "").replace(">", "").strip()


@dataclass(frozen=True)
class ImportReport:
    """How many students a roster import created and updated."""

    created: list[str]
    updated: list[str]


def import_roster(db_url: str, course_id: str, entries: list[RosterEntry]) -> ImportReport:
    """Create or update each student in the gradebook (names and email); grades are untouched."""
    created, updated = [], []
    with open_gradebook(ensure_db_folder(db_url), course_id) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SAWarning)
        known = {s.id for s in gb.students}
        for entry in entries:
            gb.update_or_create_student(
                entry.id,
                first_name=_inert(entry.first_name) or None,  # nbgrader's formgrader shows names unescaped
                last_name=_inert(entry.last_name) or None,
                email=entry.email or None,
            )
            (updated if entry.id in known else created).append(entry.id)
    return ImportReport(created, updated)


def load_roster(db_url: str, course_id: str) -> list[RosterEntry]:
    """Every student in the gradebook, as roster entries (sorted by id)."""
    with open_gradebook(ensure_db_folder(db_url), course_id) as gb:
        return sorted(
            (RosterEntry(s.id, s.first_name or "", s.last_name or "", s.email or "") for s in gb.students),
            key=lambda e: e.id,
        )


class NameIndex:
    """Finds roster students by id, email or full name (either name order, accents and case ignored)."""

    def __init__(self, entries: list[RosterEntry]) -> None:
        """Index ``entries`` for lookups."""
        self.by_id = {e.id: e for e in entries}
        self.by_email = {e.email.casefold(): e for e in entries if e.email}
        self.by_name: dict[str, list[RosterEntry]] = {}
        for entry in entries:
            keys = {normalise_name(entry.full_name), normalise_name(f"{entry.last_name} {entry.first_name}")}
            for key in keys - {""}:
                self.by_name.setdefault(key, []).append(entry)

    def by_full_name(self, name: str) -> list[RosterEntry]:
        """Roster students whose full name matches ``name`` (several when the name is ambiguous)."""
        return list({e.id: e for e in self.by_name.get(normalise_name(name), [])}.values())

    def by_key(self, key: str) -> list[RosterEntry]:
        """Students a file or folder name ``key`` refers to: an id, an email, or a full name."""
        if key in self.by_id:
            return [self.by_id[key]]
        if key.casefold() in self.by_email:
            return [self.by_email[key.casefold()]]
        return self.by_full_name(key.replace("_", " "))
