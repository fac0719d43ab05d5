"""Reading what an LMS or a shared folder hands over: one entry per student, with file times.

Sources: a Moodle assignment bulk download (a zip whose top level holds one folder per
student, ``Full Name_12345_assignsubmission_file_/``, or flat files
``Full Name_12345_assignsubmission_file_<name>``), any other zip or folder holding
``<student>.ipynb``, ``<student>/<files>`` or nbgrader's ``<student>/<lab>/<files>`` (with an
optional ``timestamp.txt``). Zip entries are never extracted blindly: unsafe paths are refused,
sizes are capped, and system clutter (``__MACOSX``, ``.DS_Store``) is ignored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

MAX_FILE_BYTES = 50 * 2**20
MOODLE = re.compile(r"^(?P<name>.+)_(?P<participant>\d+)_assign(?:submission|feedback)_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
_CLUTTER = re.compile(r"^(\.|__MACOSX$|Thumbs\.db$|desktop\.ini$|\.ipynb_checkpoints$|__pycache__$)")
_UT_EXTRA = 0x5455  # "extended timestamp" zip extra field: mtime as a UTC Unix time


class SourceError(ValueError):
    """A submissions source that cannot be read at all; the message says why."""


@dataclass
class RawFile:
    """One file of an entry: its path inside the entry, size, modification time and a reader."""

    name: str
    size: int
    mtime: dt.datetime | None
    read: Callable[[], bytes] = field(repr=False)


@dataclass
class RawEntry:
    """Everything one student (or one unrecognised name) handed in."""

    label: str  # how the source names the entry (folder or file name)
    key: str  # the student key: a full name for Moodle, else an id, email or name
    moodle: bool = False
    participant: str | None = None  # Moodle's participant number
    files: list[RawFile] = field(default_factory=list)
    timestamp: dt.datetime | None = None  # an explicit submission time (timestamp.txt)
    notes: list[str] = field(default_factory=list)  # files ignored or refused, with reasons


@dataclass
class Listing:
    """The entries of a source, and what kind of source it was."""

    kind: str  # "moodle-zip", "zip" or "folder"
    entries: list[RawEntry]
    notes: list[str] = field(default_factory=list)


def safe_parts(name: str) -> tuple[str, ...] | None:
    """The path components of an archive member name, or None when the path is unsafe."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if not parts or any(p == ".." for p in parts):
        return None
    return parts


def _ut_mtime(extra: bytes) -> dt.datetime | None:
    offset = 0
    while offset + 4 <= len(extra):
        header, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        if header == _UT_EXTRA and len(body) >= 5 and body[0] & 1:
            (seconds,) = struct.unpack_from("<i", body, 1)
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
        offset += 4 + size
    return None


def zip_member_time(info: zipfile.ZipInfo, zone: dt.tzinfo) -> dt.datetime | None:
    """When a zip member was last modified: its UTC extra field, else its local DOS time read in ``zone``."""
    exact = _ut_mtime(info.extra)
    if exact is not None:
        return exact
    try:
        return dt.datetime(*info.date_time, tzinfo=zone)
    except ValueError:
        return None


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with archive.open(info) as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as error:
            raise SourceError(f"{info.filename}: cannot be unpacked ({error})") from error
        if len(data) > MAX_FILE_BYTES:
            raise SourceError(f"{info.filename}: larger than {MAX_FILE_BYTES // 2**20} MiB once unpacked")
        return data

    return read


def _file_reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return path.read_bytes()
        except OSError as error:
            raise SourceError(f"{path.name}: cannot be read ({error})") from error

    return read


def _group_moodle(members: list[tuple[tuple[str, ...], RawFile]]) -> list[RawEntry]:
    entries: dict[tuple[str, str], RawEntry] = {}
    for parts, raw in members:
        match = MOODLE.match(parts[0])
        assert match is not None
        name, participant, plugin, rest = match.group("name", "participant", "plugin", "rest")
        entry = entries.setdefault((name, participant), RawEntry(f"{name}_{participant}", name, True, participant))
        inner = parts[1:] if not rest else (rest, *parts[1:])
        if not inner:
            continue
        if plugin != "file":
            entry.notes.append(f"{'/'.join(inner)}: Moodle {plugin} text, not a file submission: ignored")
            continue
        raw.name = "/".join(inner)
        entry.files.append(raw)
    return sorted(entries.values(), key=lambda e: e.label.casefold())


def _group_plain(members: list[tuple[tuple[str, ...], RawFile]], lab_id: str) -> list[RawEntry]:
    entries: dict[str, RawEntry] = {}
    for parts, raw in members:
        top = parts[0]
        if len(parts) == 1:
            key = PurePosixPath(top).stem
            entry = entries.setdefault(top, RawEntry(top, key))
            raw.name = top
        else:
            entry = entries.setdefault(top + "/", RawEntry(top + "/", top))
            raw.name = "/".join(parts[1:])
        entry.files.append(raw)
    for entry in entries.values():
        _narrow_to_lab(entry, lab_id)
    return sorted(entries.values(), key=lambda e: e.label.casefold())


def _narrow_to_lab(entry: RawEntry, lab_id: str) -> None:
    """In nbgrader's ``<student>/<lab>/...`` layout keep only this lab's files (and its timestamp.txt)."""
    firsts = {f.name.split("/")[0] for f in entry.files if "/" in f.name}
    top_level = [f for f in entry.files if "/" not in f.name]
    if lab_id in firsts:
        prefix = lab_id + "/"
        others = sorted(firsts - {lab_id})
        if others or top_level:
            entry.notes.append(f"only the {lab_id}/ folder was collected (also present: {', '.join(others + [f.name for f in top_level])})")
        entry.files = [f for f in entry.files if f.name.startswith(prefix)]
        for f in entry.files:
            f.name = f.name[len(prefix) :]
    elif not top_level and firsts and all(re.match(r"^lab\d{2}_", name) for name in firsts):
        entry.notes.append(f"holds other labs only ({', '.join(sorted(firsts))}): nothing for {lab_id}")
        entry.files = []
    stamp_files = [f for f in entry.files if f.name == "timestamp.txt"]
    for stamp in stamp_files:
        entry.files.remove(stamp)
        try:
            text = stamp.read().decode("utf-8").strip()
            value = dt.datetime.fromisoformat(text)
            entry.timestamp = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        except (UnicodeDecodeError, ValueError, SourceError):
            entry.notes.append("timestamp.txt is not an ISO 8601 time: file times used instead")


def _zip_members(archive: zipfile.ZipFile, zone: dt.tzinfo, notes: list[str]) -> list[tuple[tuple[str, ...], RawFile]]:
    members = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        parts = safe_parts(info.filename)
        if parts is None:
            notes.append(f"{info.filename}: unsafe path in the zip (absolute or with '..'): refused")
            continue
        if any(_CLUTTER.match(p) for p in parts):
            continue
        if info.file_size > MAX_FILE_BYTES:
            notes.append(f"{info.filename}: {info.file_size / 2**20:.0f} MiB is over the {MAX_FILE_BYTES // 2**20} MiB limit: refused")
            continue
        members.append((parts, RawFile(parts[-1], info.file_size, zip_member_time(info, zone), _zip_reader(archive, info))))
    return members


def _strip_wrapper(members: list[tuple[tuple[str, ...], RawFile]]) -> list[tuple[tuple[str, ...], RawFile]]:
    """Drop one enclosing folder when the Moodle folders sit one level down."""
    tops = {parts[0] for parts, _ in members}
    if len(tops) == 1 and all(len(parts) > 1 and MOODLE.match(parts[1]) for parts, _ in members):
        return [(parts[1:], raw) for parts, raw in members]
    return members


def _folder_members(folder: Path, notes: list[str]) -> list[tuple[tuple[str, ...], RawFile]]:
    members = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if any(_CLUTTER.match(p) for p in rel) or not path.is_file() or path.is_symlink():
            if path.is_symlink():
                notes.append(f"{'/'.join(rel)}: a symbolic link: ignored")
            continue
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            notes.append(f"{'/'.join(rel)}: {size / 2**20:.0f} MiB is over the {MAX_FILE_BYTES // 2**20} MiB limit: refused")
            continue
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
        members.append((rel, RawFile(path.name, size, mtime, _file_reader(path))))
    return members


def _group(members: list[tuple[tuple[str, ...], RawFile]], lab_id: str) -> tuple[str, list[RawEntry]]:
    if members and all(MOODLE.match(parts[0]) for parts, _ in members):
        return "moodle", _group_moodle(members)
    if any(MOODLE.match(parts[0]) for parts, _ in members):
        moodle = [m for m in members if MOODLE.match(m[0][0])]
        plain = [m for m in members if not MOODLE.match(m[0][0])]
        return "moodle", _group_moodle(moodle) + _group_plain(plain, lab_id)
    return "plain", _group_plain(members, lab_id)


@contextlib.contextmanager
def open_source(source: Path, lab_id: str, zone: dt.tzinfo | None = None) -> Iterator[Listing]:
    """List a zip or folder of submissions (files are read lazily while the context is open)."""
    source = Path(source)
    zone = zone or dt.datetime.now().astimezone().tzinfo or dt.timezone.utc
    notes: list[str] = []
    if source.is_dir():
        kind, entries = _group(_folder_members(source, notes), lab_id)
        yield Listing("folder" if kind == "plain" else "moodle-folder", entries, notes)
        return
    if not source.is_file():
        raise SourceError(f"submissions source {source} does not exist")
    if not zipfile.is_zipfile(source):
        raise SourceError(f"{source.name} is neither a folder nor a zip file")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(f"{source.name}: not a readable zip file ({error})") from error
    with archive:
        kind, entries = _group(_strip_wrapper(_zip_members(archive, zone, notes)), lab_id)
        yield Listing("moodle-zip" if kind == "moodle" else "zip", entries, notes)


def parse_zone(name: str | None) -> dt.tzinfo:
    """A time zone from an IANA name or a UTC offset like ``+02:00`` (None: this machine's zone)."""
    if not name:
        return dt.datetime.now().astimezone().tzinfo or dt.timezone.utc
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name.strip())
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    if name.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as error:
        raise SourceError(f"unknown time zone {name!r}: use an IANA name like Europe/London or an offset like +01:00") from error


def parse_timestamp(text: str, zone: dt.tzinfo) -> dt.datetime:
    """An ISO 8601 time given on the command line; without an offset it is read in ``zone``."""
    try:
        stamp = dt.datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise SourceError(f"--timestamp {text!r} is not an ISO 8601 time like 2026-10-10T16:55:00+01:00") from error
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=zone)
