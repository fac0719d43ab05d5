"""Units of the instructor workflow: roster, LMS sources, collection, late policy, leaks, feedback hints."""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from pathlib import Path

import nbformat
import pytest
from toy_course import LAB_ID, NOTEBOOK, source_notebook
from workflow_helpers import fresh_gradebook

from autograder.collect.collect import collect, format_report, safe_name
from autograder.course import CourseError, load_course
from autograder.record.latepolicy import LatePolicy, parse_late_policy
from autograder.layout import default_db_url, submitted_dir
from autograder.authoring.leaks import find_leaks, notebook_secrets, redact, secret_lines
from autograder.collect.lms import SourceError, open_source, parse_zone, safe_parts
from autograder.record.penalties import CourseLatePenalty
from autograder.collect.roster import (
    NameIndex,
    RosterEntry,
    RosterError,
    import_roster,
    load_roster,
    normalise_name,
    read_roster,
)
from autograder.collect.submissions import discover

UTC = dt.timezone.utc


# --- roster -------------------------------------------------------------------------------


def test_roster_reads_moodle_style_headers_bom_and_semicolons(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        "\ufeffID number;First name;Surname;Email address\n"
        "s1;Zoë;Ångström;zoe@uni.example\n"
        "s2;Bob;Smith;\n"
        ";No;Id;x@y\n"
        "s1;Again;Twice;a@b\n"
        "bad id;Some;One;\n",
        encoding="utf-8",
    )
    roster = read_roster(path)
    assert [e.id for e in roster.entries] == ["s1", "s2"]
    assert roster.entries[0] == RosterEntry("s1", "Zoë", "Ångström", "zoe@uni.example")
    assert len(roster.problems) == 3
    assert any("already on line 2" in p for p in roster.problems)


def test_roster_single_name_column_and_clear_errors(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("student_id,name,email\nu7,Jean-Luc Picard,jl@x\nu8,Cher,\n", encoding="utf-8")
    entries = read_roster(path).entries
    assert (entries[0].first_name, entries[0].last_name) == ("Jean-Luc", "Picard")
    assert (entries[1].first_name, entries[1].last_name) == ("Cher", "")
    (tmp_path / "no_id.csv").write_text("name,email\nA B,a@b\n")
    with pytest.raises(RosterError, match="no student id column"):
        read_roster(tmp_path / "no_id.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(RosterError, match="empty"):
        read_roster(tmp_path / "empty.csv")
    with pytest.raises(RosterError, match="does not exist"):
        read_roster(tmp_path / "missing.csv")


def test_names_match_without_accents_case_or_order():
    assert normalise_name("  José-María  O'Neill ") == normalise_name("jose maria o neill")
    index = NameIndex([RosterEntry("s1", "Zoë", "Ångström", "z@x"), RosterEntry("s2", "Ann", "Lee"), RosterEntry("s3", "Ann", "Lee")])
    assert [e.id for e in index.by_full_name("ZOE ANGSTROM")] == ["s1"]
    assert [e.id for e in index.by_full_name("Angstrom Zoe")] == ["s1"]
    assert sorted(e.id for e in index.by_full_name("ann lee")) == ["s2", "s3"]
    assert [e.id for e in index.by_key("s1")] == [e.id for e in index.by_key("Z@X")] == ["s1"]
    assert index.by_full_name("Nobody Here") == []


def test_roster_import_creates_then_updates(tmp_path):
    db = fresh_gradebook(tmp_path)
    first = import_roster(db, "c", [RosterEntry("s1", "A", "B", "a@b")])
    again = import_roster(db, "c", [RosterEntry("s1", "A", "Bee", "a@b"), RosterEntry("s2", "C", "D")])
    assert (first.created, again.created, again.updated) == (["s1"], ["s2"], ["s1"])
    assert load_roster(db, "c")[0] == RosterEntry("s1", "A", "Bee", "a@b")


# --- late policy -------------------------------------------------------------------------


def test_late_policy_days_grace_and_cap():
    due = dt.datetime(2026, 10, 10, 17, tzinfo=UTC)
    policy = LatePolicy(due, grace_minutes=15, per_day=0.1, cap=0.25)
    assert policy.seconds_late(due - dt.timedelta(hours=1)) == 0
    assert policy.penalty_fraction(policy.seconds_late(due + dt.timedelta(minutes=15))) == 0
    assert policy.penalty_fraction(policy.seconds_late(due + dt.timedelta(minutes=16))) == pytest.approx(0.1)
    assert policy.days_charged(policy.seconds_late(due + dt.timedelta(hours=24))) == 1
    assert policy.days_charged(policy.seconds_late(due + dt.timedelta(hours=24, seconds=1))) == 2
    assert policy.penalty_fraction(10 * 86400) == pytest.approx(0.25)
    # A time given in another zone is the same instant.
    assert policy.seconds_late(dt.datetime(2026, 10, 10, 19, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == 1800
    assert "10% of the lab's points per started day" in policy.describe()


def test_nbgrader_plugin_gives_points():
    plugin = CourseLatePenalty(grace_seconds=900, per_day=0.1, cap=0.5, max_score=6)
    assert plugin.late_submission_penalty("s", 5.0, 600) is None
    assert plugin.late_submission_penalty("s", 5.0, 3600) == pytest.approx(0.6)
    assert plugin.late_submission_penalty("s", 5.0, 30 * 86400) == pytest.approx(3.0)


def test_course_toml_late_keys_parse_and_fail_clearly(toy_root):
    toml = toy_root / "course.toml"
    base = toml.read_text()
    toml.write_text(base + 'due = 2026-10-10T17:00:00Z\ngrace_minutes = 10\nlate_penalty_per_day = 0.2\n')
    lab = load_course(toy_root).labs[0]
    assert lab.late.due == dt.datetime(2026, 10, 10, 17, tzinfo=UTC)
    assert (lab.late.grace_minutes, lab.late.per_day, lab.late.cap) == (10, 0.2, 1.0)
    for extra, message in [
        ('due = "2026-10-10T17:00:00"\n', "needs a UTC offset"),
        ('due = "next friday"\n', "not an ISO 8601"),
        ('due = "2026-10-10T17:00:00+00:00"\nlate_penalty_per_day = 10\n', "between 0 and 1"),
        ("late_penalty_per_day = 0.1\n", "needs a due date"),
        ('due = "2026-10-10T17:00:00+00:00"\ngrace_minutes = -5\n', "grace_minutes"),
    ]:
        toml.write_text(base + extra)
        with pytest.raises(CourseError, match=message):
            load_course(toy_root)
    assert parse_late_policy({"id": "x"}) == LatePolicy()
    assert not parse_late_policy({"id": "x"}).active


# --- LMS sources ---------------------------------------------------------------------------


def _ut_extra(when: dt.datetime) -> bytes:
    return struct.pack("<HHBi", 0x5455, 5, 1, int(when.timestamp()))


def test_zip_times_use_the_utc_field_or_the_given_zone(tmp_path):
    path = tmp_path / "m.zip"
    exact = dt.datetime(2026, 10, 10, 16, 59, 30, tzinfo=UTC)
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("Ann Lee_11_assignsubmission_file_/lab.ipynb", date_time=(2020, 1, 1, 0, 0, 0))
        info.extra = _ut_extra(exact)
        archive.writestr(info, "{}")
        archive.writestr(zipfile.ZipInfo("Bo Ng_12_assignsubmission_file_/lab.ipynb", date_time=(2026, 10, 10, 18, 0, 0)), "{}")
        archive.writestr(zipfile.ZipInfo("Bo Ng_12_assignsubmission_onlinetext_onlinetext.html", date_time=(2026, 10, 10, 18, 0, 0)), "hi")
        archive.writestr("../evil.ipynb", "{}")
        archive.writestr("__MACOSX/._x", "junk")
    with open_source(path, LAB_ID, parse_zone("+02:00")) as listing:
        assert listing.kind == "moodle-zip"
        by = {e.key: e for e in listing.entries}
        assert by["Ann Lee"].files[0].mtime == exact
        assert by["Bo Ng"].files[0].mtime == dt.datetime(2026, 10, 10, 16, tzinfo=UTC)
        assert by["Bo Ng"].participant == "12" and any("onlinetext" in n for n in by["Bo Ng"].notes)
        assert any("unsafe path" in n for n in listing.notes)


def test_unsafe_names_and_bad_sources(tmp_path):
    assert safe_parts("a/../../b") is None and safe_parts("/etc/passwd") is None and safe_parts("C:/x") is None
    assert safe_parts("a\\b.ipynb") == ("a", "b.ipynb")
    assert safe_name("../we:ird/na*me.ipynb") == "we_ird/na_me.ipynb"
    (tmp_path / "x.txt").write_text("not a zip")
    with pytest.raises(SourceError, match="neither a folder nor a zip"), open_source(tmp_path / "x.txt", LAB_ID):
        pass
    with pytest.raises(SourceError, match="does not exist"), open_source(tmp_path / "nope", LAB_ID):
        pass
    with pytest.raises(SourceError, match="unknown time zone"):
        parse_zone("Mars/Olympus")


# --- collection ----------------------------------------------------------------------------


def _notebook(text: str = "pass") -> str:
    nb = source_notebook()
    nb.cells[2].source = f"def double(x):\n    {text}"
    return nbformat.writes(nb)


@pytest.fixture
def course(toy_course):
    fresh_gradebook(toy_course.root)
    import_roster(default_db_url(toy_course), toy_course.id, [RosterEntry("s1", "Ann", "Lee", "ann@x"), RosterEntry("s2", "Bo", "Ng")])
    return toy_course


def _set_mtime(path: Path, when: dt.datetime) -> None:
    import os

    os.utime(path, (when.timestamp(), when.timestamp()))


def test_collect_folder_keeps_history_and_never_overwrites_silently(course, tmp_path):
    lab = course.labs[0]
    source = tmp_path / "drop"
    source.mkdir()
    first = source / "s1.ipynb"
    first.write_text(_notebook("return 1"))
    _set_mtime(first, dt.datetime(2026, 10, 1, 12, tzinfo=UTC))
    report = collect(course, lab, source)
    assert [o.action for o in report.outcomes] == ["collected"]
    target = submitted_dir(course) / "s1" / LAB_ID
    assert (target / "timestamp.txt").read_text() == "2026-10-01T12:00:00+00:00"
    assert discover(submitted_dir(course), lab)[0].timestamp == dt.datetime(2026, 10, 1, 12, tzinfo=UTC)

    assert collect(course, lab, source).outcomes[0].action == "unchanged"

    first.write_text(_notebook("return 2"))
    _set_mtime(first, dt.datetime(2026, 10, 2, 12, tzinfo=UTC))
    replaced = collect(course, lab, source).outcomes[0]
    assert replaced.action == "replaced" and "collected-history" in replaced.notes[-1]
    history = course.root / "grading" / "collected-history" / "s1" / LAB_ID / "20261001T120000Z"
    assert "return 1" in (history / NOTEBOOK).read_text()
    assert "return 2" in (target / NOTEBOOK).read_text()

    first.write_text(_notebook("return 0"))
    _set_mtime(first, dt.datetime(2026, 9, 1, 12, tzinfo=UTC))
    older = collect(course, lab, source).outcomes[0]
    assert older.action == "kept-earlier-copy" and "older" in older.flags
    assert "return 2" in (target / NOTEBOOK).read_text()
    assert collect(course, lab, source, replace=True).outcomes[0].action == "replaced"
    assert "return 0" in (target / NOTEBOOK).read_text()
    kept = list((course.root / "grading" / "collected-history" / "s1" / LAB_ID).rglob(NOTEBOOK))
    assert len(kept) == 3  # every earlier version is still there
    assert (course.root / "grading" / "collect-log" / f"{LAB_ID}.jsonl").read_text().count("\n") == 5


def test_collect_nbgrader_layout_explicit_time_and_anomalies(course, tmp_path):
    lab = course.labs[0]
    source = tmp_path / "exchange"
    (source / "s1" / LAB_ID).mkdir(parents=True)
    (source / "s1" / LAB_ID / NOTEBOOK).write_text(_notebook())
    (source / "s1" / LAB_ID / "timestamp.txt").write_text("2026-10-10 16:00:00+00:00")
    (source / "s1" / "lab02_other").mkdir()
    (source / "s1" / "lab02_other" / "lab02_other.ipynb").write_text("{}")
    (source / "s2" / "lab02_other").mkdir(parents=True)
    (source / "s2" / "lab02_other" / "x.ipynb").write_text("{}")
    (source / "stranger.ipynb").write_text(_notebook())
    (source / "Bo Ng").mkdir()
    (source / "Bo Ng" / "report.pdf").write_bytes(b"%PDF")
    report = collect(course, lab, source)
    by = {o.entry: o for o in report.outcomes}
    assert by["s1/"].action == "collected" and by["s1/"].timestamp == "2026-10-10T16:00:00+00:00"
    assert by["s2/"].action == "skipped" and "other labs only" in by["s2/"].notes[0]
    assert by["stranger.ipynb"].action == "unmatched"
    assert (course.root / "grading" / "collected-unmatched" / LAB_ID / "stranger.ipynb" / "stranger.ipynb").is_file()
    assert by["Bo Ng/"].student == "s2" and "no-notebook" in by["Bo Ng/"].flags
    text = format_report(report)
    assert "unmatched" in text and "no-notebook" in text

    stamp = dt.datetime(2026, 10, 9, 8, tzinfo=UTC)
    again = collect(course, lab, source, timestamp=stamp, replace=True)
    assert {o.timestamp for o in again.outcomes if o.student == "s1"} == {stamp.isoformat()}


def test_collect_refuses_its_own_target(course):
    submitted_dir(course).mkdir(parents=True)
    with pytest.raises(SourceError, match="collection target"):
        collect(course, course.labs[0], submitted_dir(course))


def test_discover_skips_students_with_other_labs_only(toy_course, tmp_path):
    folder = tmp_path / "submitted"
    (folder / "a" / "lab02_other").mkdir(parents=True)
    (folder / "a" / "lab02_other" / "lab02_other.ipynb").write_text("{}")
    (folder / "b" / LAB_ID).mkdir(parents=True)
    (folder / "b" / LAB_ID / NOTEBOOK).write_text("{}")
    assert [s.student for s in discover(folder, toy_course.labs[0])] == ["b"]


# --- secrets -------------------------------------------------------------------------------


def test_secrets_are_every_solution_and_hidden_test_region(tmp_path):
    secrets = notebook_secrets(source_notebook(), LAB_ID)
    kinds = sorted(s.kind for s in secrets)
    assert kinds == ["hidden test", "hidden test", "solution", "solution", "solution"]
    assert any("inputs = [rng.randint(-100, 100) for _ in range(4)] + [21, -3]" in s.text for s in secrets)
    lines = secret_lines(secrets)
    assert "inputs = [rng.randint(-100, 100) for _ in range(4)] + [21, -3]" in lines and "return 2 * x" in lines
    (tmp_path / "ok.txt").write_text("return x + x")
    hidden = next(s for s in secrets if "square" in s.text and s.kind == "hidden test")
    (tmp_path / "bad.py").write_text("# copied, re-indented\n" + "\n".join("    " + line for line in hidden.text.split()))
    leaks = find_leaks(tmp_path, secrets)
    assert [(leak.path, leak.secret.kind) for leak in leaks] == [("bad.py", "hidden test")]
    assert redact("NameError: inputs = [rng.randint(-100, 100) for _ in range(4)] + [21, -3]", lines).startswith("the hidden tests found a problem")
    assert redact("AssertionError: double(1) should be 2", lines) == "AssertionError: double(1) should be 2"


def test_a_corrupt_zip_member_is_reported_not_fatal(course, tmp_path, capsys):
    path = tmp_path / "moodle.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("Ann Lee_1_assignsubmission_file_/lab01_toy.ipynb", _notebook("return 7"))
        archive.writestr("Bo Ng_2_assignsubmission_file_/lab01_toy.ipynb", "X" * 200)
    data = bytearray(path.read_bytes())
    data[data.index(b"XXXX")] = ord("Y")  # Bo's bytes no longer match their CRC
    path.write_bytes(bytes(data))
    report = collect(course, course.labs[0], path)
    by = {o.student: o for o in report.outcomes}
    assert by["s1"].action == "collected"
    assert by["s2"].action == "skipped" and "cannot be unpacked" in by["s2"].notes[-1]
    assert not (submitted_dir(course) / "s2").exists()

    from autograder.cli import main

    assert main(["--root", str(course.root), "collect", "1", str(tmp_path / "missing.zip")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--root", str(course.root), "collect", "1", str(path), "--timezone", "Nowhere/Land"]) == 2
    assert main(["--root", str(course.root), "feedback", "1", "--student", "nobody"]) == 2
    assert "no recorded submission" in capsys.readouterr().err
