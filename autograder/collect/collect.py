"""``course collect``: file a lab's submissions from an LMS download into nbgrader's layout.

Each entry of the source (see ``lms.py``) is matched to a roster student (Moodle: by full name,
accents and case ignored; otherwise by id, email or name), and its files are written to
``grading/submitted/<student>/<lab>/`` with the lab's notebook under its expected name and the
submission time in ``timestamp.txt`` (ISO 8601, UTC). Nothing is lost or overwritten silently:
an earlier collection is moved to ``grading/collected-history/``, a superseded duplicate is kept
there too, and unmatched entries are kept in ``grading/collected-unmatched/``. Every anomaly
(unmatched, ambiguous, duplicate, empty, late, no notebook, refused file) is reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.course import Course, Lab
from autograder.layout import collect_log, default_db_url, history_dir, submitted_dir, unmatched_dir
from autograder.collect.lms import RawEntry, RawFile, SourceError, open_source
from autograder.collect.roster import NameIndex, RosterEntry, load_roster
from autograder.collect.submissions import read_timestamp

_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+@-]")
ACTIONS = ("collected", "replaced", "unchanged", "kept-earlier-copy", "duplicate", "unmatched", "ambiguous", "empty", "skipped")


@dataclass
class Outcome:
    """What happened to one entry of the source."""

    entry: str
    action: str  # one of ACTIONS
    student: str | None = None
    timestamp: str | None = None
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # anomalies: late, duplicate, empty, no-notebook, renamed, ...


@dataclass
class CollectReport:
    """The outcome of one ``course collect`` run."""

    lab: str
    source: str
    kind: str
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_action(self, *actions: str) -> list[Outcome]:
        """The outcomes with one of ``actions``."""
        return [o for o in self.outcomes if o.action in actions]

    def flagged(self, flag: str) -> list[Outcome]:
        """The outcomes carrying ``flag`` (e.g. "late", "duplicate", "empty")."""
        return [o for o in self.outcomes if flag in o.flags]

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return asdict(self)


@dataclass
class _Candidate:
    entry: RawEntry
    student: RosterEntry
    notebook: RawFile | None
    timestamp: dt.datetime | None
    notes: list[str]
    flags: list[str]


def safe_name(name: str) -> str:
    """A file or folder name with only portable characters (each path component cleaned)."""
    parts = [(_UNSAFE.sub("_", part).strip(" .") or "_") for part in name.replace("\\", "/").split("/") if part not in ("", ".", "..")]
    return "/".join(parts) or "_"


def format_stamp(stamp: dt.datetime | None) -> str:
    """A compact UTC time for folder names (``20261010T170000Z``), or ``unknown-time``."""
    if stamp is None:
        return "unknown-time"
    return stamp.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _late_note(lab: Lab, stamp: dt.datetime | None) -> tuple[str | None, bool]:
    """A note on lateness, and whether it costs points."""
    policy = lab.late
    seconds = policy.seconds_late(stamp)
    if seconds <= 0:
        return None, False
    hours = seconds / 3600
    when = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
    days = policy.days_charged(seconds)
    if days == 0:
        return f"late by {when}, inside the {policy.grace_minutes:g}-minute grace period", False
    if not policy.active:
        return f"late by {when} (this lab has no late penalty)", True
    fraction = policy.penalty_fraction(seconds)
    return f"late by {when}: {days} started day{'s' if days > 1 else ''}, penalty {fraction:.0%} of the lab's points", True


def _choose_notebook(entry: RawEntry, lab: Lab) -> tuple[RawFile | None, list[str], list[str]]:
    """The notebook to grade, with notes and flags about the choice."""
    notebooks = [f for f in entry.files if f.name.lower().endswith(".ipynb")]
    notes: list[str] = []
    flags: list[str] = []
    if not notebooks:
        names = ", ".join(f.name for f in entry.files)
        notes.append(f"no notebook in the entry (files: {names}): it will be graded zero with that reason")
        return None, notes, ["no-notebook"]
    exact = [f for f in notebooks if f.name == lab.notebook]
    if exact:
        chosen = exact[0]
    else:
        chosen = max(notebooks, key=lambda f: (f.mtime or dt.datetime.min.replace(tzinfo=dt.timezone.utc), f.name))
        notes.append(f"notebook {chosen.name} filed as {lab.notebook}")
        flags.append("renamed")
    if len(notebooks) > 1:
        others = ", ".join(f.name for f in notebooks if f is not chosen)
        notes.append(f"duplicate notebooks in one entry: graded {chosen.name}, also kept {others}")
        flags.append("duplicate")
    if chosen.size == 0:
        notes.append(f"empty file: {chosen.name} has 0 bytes (graded zero)")
        flags.append("empty")
    return chosen, notes, flags


def _entry_time(entry: RawEntry, notebook: RawFile | None, override: dt.datetime | None) -> dt.datetime | None:
    if override is not None:
        return override
    if entry.timestamp is not None:
        return entry.timestamp
    if notebook is not None and notebook.mtime is not None:
        return notebook.mtime
    times = [f.mtime for f in entry.files if f.mtime is not None]
    return max(times) if times else None


def _write_files(folder: Path, entry: RawEntry, notebook: RawFile | None, lab: Lab, stamp: dt.datetime | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    taken = {"timestamp.txt"} | ({lab.notebook} if notebook is not None else set())  # a student's own copy keeps a prefix
    for raw in entry.files:
        name = lab.notebook if raw is notebook else safe_name(raw.name)
        if raw is not notebook and name in taken:
            name = f"original-{name}"
        taken.add(name)
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw.read())
        if raw.mtime is not None:
            os.utime(target, (raw.mtime.timestamp(), raw.mtime.timestamp()))
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp.astimezone(dt.timezone.utc).isoformat(), encoding="utf-8")


def _digest(folder: Path) -> str:
    """A digest of every file in a folder (names and bytes)."""
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def _unique(folder: Path) -> Path:
    candidate, n = folder, 2
    while candidate.exists():
        candidate = folder.with_name(f"{folder.name}-{n}")
        n += 1
    return candidate


def _keep_aside(course: Course, entry: RawEntry, lab: Lab, why: str, student: str | None = None) -> Path:
    """Write an entry that is not filed as a submission somewhere safe, and return where."""
    if student is None:
        target = _unique(unmatched_dir(course, lab) / safe_name(entry.label.rstrip("/")))
    else:
        target = _unique(history_dir(course, student, lab) / f"{format_stamp(_entry_time(entry, None, None))}-{why}")
    _write_files(target, entry, None, lab, _entry_time(entry, None, None))
    return target


def _match(index: NameIndex, entry: RawEntry, trust_keys: bool) -> tuple[list[RosterEntry], str]:
    if entry.moodle:
        return index.by_full_name(entry.key), f"name {entry.key!r}"
    found = index.by_key(entry.key)
    if not found and trust_keys and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}", entry.key):
        return [RosterEntry(entry.key)], f"id {entry.key!r}"
    return found, f"{entry.key!r}"


def collect(
    course: Course,
    lab: Lab,
    source: Path,
    db_url: str | None = None,
    timestamp: dt.datetime | None = None,
    zone: dt.tzinfo | None = None,
    replace: bool = False,
) -> CollectReport:
    """File every entry of ``source`` for ``lab`` under grading/submitted; see the module docstring."""
    source = Path(source)
    target_root = submitted_dir(course)
    if source.resolve() == target_root.resolve() or target_root.resolve() in source.resolve().parents:
        raise SourceError(f"{source} is the collection target itself: collect from the LMS download instead")
    roster = load_roster(db_url or default_db_url(course), course.id)
    index = NameIndex(roster)
    with open_source(source, lab.id, zone) as listing:
        report = CollectReport(lab.id, str(source), listing.kind, notes=list(listing.notes))
        if not roster:
            report.notes.append(
                "no roster in the gradebook: import one with `course roster import FILE.csv`"
                + ("" if listing.kind.startswith("moodle") else "; file names were taken as student ids")
            )
        candidates: dict[str, list[_Candidate]] = {}
        for entry in listing.entries:
            outcome = Outcome(entry.label, "skipped", notes=list(entry.notes))
            if any("refused" in note for note in entry.notes):
                outcome.flags.append("refused-files")
            if not entry.files:
                if not entry.notes or entry.moodle:
                    outcome.action = "empty"
                    outcome.flags.append("empty")
                    outcome.notes.append("no file submitted")
                report.outcomes.append(outcome)
                continue
            found, described = _match(index, entry, trust_keys=not roster)
            if len(found) != 1:
                outcome.action = "unmatched" if not found else "ambiguous"
                outcome.flags.append(outcome.action)
                try:
                    rel = _keep_aside(course, entry, lab, "unmatched").relative_to(course.root).as_posix()
                except (OSError, SourceError) as error:
                    rel = f"nowhere ({error}; it is still in the source)"
                if found:
                    outcome.notes.append(f"{described} matches several roster students ({', '.join(e.id for e in found)}); kept in {rel}")
                else:
                    outcome.notes.append(f"{described} is not on the roster; kept in {rel}")
                report.outcomes.append(outcome)
                continue
            notebook, notes, flags = _choose_notebook(entry, lab)
            stamp = _entry_time(entry, notebook, timestamp)
            if stamp is None:
                notes.append("no submission time known: it will never count as late")
            late, costs = _late_note(lab, stamp)
            if late:
                notes.append(late)
                flags.append("late" if costs else "in-grace")
            candidates.setdefault(found[0].id, []).append(
                _Candidate(entry, found[0], notebook, stamp, outcome.notes + notes, outcome.flags + flags)
            )
        for student in sorted(candidates):
            report.outcomes.extend(_file_student(course, lab, student, candidates[student], replace))
    report.outcomes.sort(key=lambda o: (o.student or "~", o.entry.casefold()))
    log = collect_log(course, lab)
    log.parent.mkdir(parents=True, exist_ok=True)
    record = {"collected_at": dt.datetime.now(dt.timezone.utc).isoformat(), **report.to_dict()}
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return report


def _file_student(course: Course, lab: Lab, student: str, found: list[_Candidate], replace: bool) -> list[Outcome]:
    """File the newest entry of one student; keep any other entries aside as duplicates."""
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    found = sorted(found, key=lambda c: (c.timestamp or oldest, c.entry.label), reverse=True)
    chosen, others = found[0], found[1:]
    outcomes = []
    for other in others:
        try:
            where = _keep_aside(course, other.entry, lab, "duplicate", student).relative_to(course.root).as_posix()
        except (OSError, SourceError) as error:
            where = f"nowhere ({error}; it is still in the source)"
        note = f"duplicate: {student} also submitted {chosen.entry.label!r}; that newer entry is graded, this one is kept in {where}"
        flags = [f for f in other.flags if f != "late"] + ["duplicate"]
        outcomes.append(Outcome(other.entry.label, "duplicate", student, _iso(other.timestamp), other.notes + [note], flags))
    outcome = Outcome(chosen.entry.label, "collected", student, _iso(chosen.timestamp), list(chosen.notes), list(chosen.flags))
    if others:
        outcome.notes.append(f"duplicate: {len(others)} other entr{'y' if len(others) == 1 else 'ies'} for {student} kept aside; this newest one is graded")
        outcome.flags.append("duplicate")
    target = submitted_dir(course) / student / lab.id
    staging = Path(tempfile.mkdtemp(prefix=".collect-", dir=_ensure(submitted_dir(course).parent)))
    try:
        _write_files(staging / "new", chosen.entry, chosen.notebook, lab, chosen.timestamp)
        new = staging / "new"
        if target.exists():
            earlier = read_timestamp(target)
            if _digest(target) == _digest(new):
                outcome.action = "unchanged"
                outcome.notes.append("identical to the copy collected before")
            elif not replace and earlier is not None and chosen.timestamp is not None and chosen.timestamp < earlier:
                kept = _unique(history_dir(course, student, lab) / f"{format_stamp(chosen.timestamp)}-older-not-used")
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(new), kept)
                outcome.action = "kept-earlier-copy"
                outcome.flags.append("older")
                outcome.notes.append(
                    f"older than the copy already collected ({earlier.isoformat()}), which stays; this one is kept in "
                    f"{kept.relative_to(course.root).as_posix()} (use --replace to grade it instead)"
                )
            else:
                kept = _unique(history_dir(course, student, lab) / format_stamp(earlier or _mtime(target)))
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(target), kept)
                shutil.move(str(new), target)
                outcome.action = "replaced"
                outcome.notes.append(f"replaced an earlier collection, kept in {kept.relative_to(course.root).as_posix()}; grade again to update the marks")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(new), target)
    except (OSError, SourceError) as error:
        outcome.action = "skipped"
        outcome.notes.append(f"could not be filed: {error}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [outcome, *outcomes]


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _mtime(folder: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.timezone.utc)


def _iso(stamp: dt.datetime | None) -> str | None:
    return stamp.astimezone(dt.timezone.utc).isoformat() if stamp else None


def format_report(report: CollectReport) -> str:
    """The collection report as text for the terminal: a line per entry, then the anomalies."""
    counts = {action: len(report.by_action(action)) for action in ACTIONS}
    flags = sorted({flag for o in report.outcomes for flag in o.flags})
    lines = [f"{report.lab}: {len(report.outcomes)} entries in {report.kind} {report.source}"]
    lines.append("  " + ", ".join(f"{n} {action}" for action, n in counts.items() if n))
    if flags:
        lines.append("  anomalies: " + ", ".join(f"{len(report.flagged(flag))} {flag}" for flag in flags))
    for outcome in report.outcomes:
        who = outcome.student or "-"
        lines.append(f"  {outcome.action:<17} {who:<14} {outcome.entry}")
        for note in outcome.notes:
            lines.append(f"  {'':<17} {'':<14}   {note}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    anomalies = [o for o in report.outcomes if o.flags or o.action not in ("collected", "unchanged", "replaced")]
    if anomalies:
        lines.append(f"  {len(anomalies)} entr{'y needs' if len(anomalies) == 1 else 'ies need'} a look (see above)")
    return "\n".join(lines)
