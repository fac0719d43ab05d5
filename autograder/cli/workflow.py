"""The ``course`` sub-commands of the weekly workflow: roster, collect, feedback, export, publish.

``cli.py`` registers them with :func:`add_workflow_commands`; each handler prints a short
report and returns an exit status (0 ok, 1 done with problems worth a look, 2 refused).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.course import Course

Handler = Callable[[Course, argparse.Namespace], int]


def _friendly(handler: Handler) -> Handler:
    """Turn the workflow's expected errors into a one-line message and exit status 2."""

    @functools.wraps(handler)
    def run(course: Course, args: argparse.Namespace) -> int:
        from autograder.collect.collect import SourceError
        from autograder.authoring.publish import PublishError
        from autograder.collect.roster import RosterError

        try:
            return handler(course, args)
        except (RosterError, SourceError, PublishError, ValueError, OSError) as error:
            print(f"course {args.command}: {error}", file=sys.stderr)
            return 2

    return run


def _db(course: Course, args: argparse.Namespace) -> str:
    from autograder.layout import default_db_url

    return args.db_url or default_db_url(course)


@_friendly
def cmd_roster_import(course: Course, args: argparse.Namespace) -> int:
    """Import a roster CSV into the gradebook."""
    from autograder.collect.roster import import_roster, read_roster

    roster = read_roster(Path(args.file))
    for problem in roster.problems:
        print(f"skipped: {problem}")
    report = import_roster(_db(course, args), course.id, roster.entries)
    print(f"roster: {len(report.created)} students added, {len(report.updated)} updated ({len(roster.problems)} rows skipped)")
    return 1 if roster.problems else 0


@_friendly
def cmd_roster_list(course: Course, args: argparse.Namespace) -> int:
    """Print the roster stored in the gradebook."""
    from autograder.collect.roster import load_roster

    entries = load_roster(_db(course, args), course.id)
    for entry in entries:
        print(f"{entry.id:<16} {entry.full_name:<32} {entry.email}")
    print(f"{len(entries)} students")
    return 0


@_friendly
def cmd_collect(course: Course, args: argparse.Namespace) -> int:
    """File an LMS download into grading/submitted."""
    from autograder.collect.collect import collect, format_report
    from autograder.collect.lms import parse_timestamp, parse_zone

    lab = course.lab(args.lab)
    zone = parse_zone(args.timezone)
    stamp = parse_timestamp(args.timestamp, zone) if args.timestamp else None
    report = collect(course, lab, Path(args.source), _db(course, args), timestamp=stamp, zone=zone, replace=args.replace)
    print(format_report(report))
    print(f"next: course grade {lab.id} grading/submitted")
    flagged = [o for o in report.outcomes if o.flags or o.action in ("unmatched", "ambiguous", "skipped")]
    return 1 if flagged else 0


@_friendly
def cmd_feedback(course: Course, args: argparse.Namespace) -> int:
    """Write the HTML feedback pages (and zips) of a lab."""
    from autograder.feedback.pages import write_feedback

    lab = course.lab(args.lab)
    if args.preview:
        report = write_feedback(course, lab, _db(course, args), [args.preview], show_answers=not args.no_answers)
        page = report.pages[0]
        print(page)
        _open_in_browser(page)
        return 0
    report = write_feedback(course, lab, _db(course, args), args.student or None, make_zips=args.zip, show_answers=not args.no_answers)
    root = course.root
    print(f"{lab.id}: {len(report.pages)} feedback pages in {(root / 'grading' / 'feedback').relative_to(root)}/<student>/{lab.id}/feedback.html")
    if report.zips:
        print(f"{len(report.zips)} zips in {report.zips[0].parent.relative_to(root)}/")
    if report.pending:
        print(f"not final yet (manual grading pending): {', '.join(report.pending)}")
    for problem in report.problems:
        print(f"problem: {problem}")
    return 1 if report.pending or report.problems else 0


def _open_in_browser(page: Path) -> bool:
    """Open ``page`` in a browser only where one is meant to be used: $BROWSER is set, or a
    display is and this is an interactive terminal (never in tests, CI or over plain ssh)."""
    import os
    import webbrowser

    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32")
    if not (os.environ.get("BROWSER") or (display and sys.stdout.isatty())):
        return False
    return webbrowser.open(page.resolve().as_uri())


def _names(students: list[str], limit: int = 12) -> str:
    shown = ", ".join(students[:limit])
    return shown + (f" and {len(students) - limit} more" if len(students) > limit else "")


@_friendly
def cmd_status(course: Course, args: argparse.Namespace) -> int:
    """One screen on a lab: collected, graded, pending manual, late, rejected, not graded yet."""
    from autograder.layout import grading_root, submitted_dir, unmatched_dir
    from autograder.record.results import lab_results

    lab = course.lab(args.lab)
    submitted = submitted_dir(course)
    collected = sorted(p.parent.name for p in submitted.glob(f"*/{lab.id}") if p.is_dir()) if submitted.is_dir() else []
    db = _db(course, args)
    results = lab_results(course, lab, db) if (not db.startswith("sqlite:///") or Path(db[len("sqlite:///"):]).is_file()) else {}
    graded = sorted(s for s, r in results.items() if r.status == "graded")
    rejected = sorted(s for s, r in results.items() if r.status != "graded")
    pending = sorted(s for s, r in results.items() if r.needs_manual)
    late = sorted(s for s, r in results.items() if r.seconds_late > 0)
    waiting = sorted(set(collected) - set(results))
    unmatched = unmatched_dir(course, lab)
    strays = sorted(p.name for p in unmatched.iterdir()) if unmatched.is_dir() else []
    print(f"{lab.id}: {lab.title} ({grading_root(course)})")
    rows = [
        ("collected", collected, ""),
        ("graded", graded, ""),
        ("pending manual", pending, "mark them in the formgrader"),
        ("late", [f"{s} ({results[s].days_charged}d)" if results[s].days_charged else f"{s} (grace)" for s in late], ""),
        ("rejected", [f"{s}: {results[s].message or results[s].status}" for s in rejected], ""),
        ("not graded yet", waiting, f"course grade {lab.id} {submitted.relative_to(course.root)}"),
        ("unmatched", strays, f"fix the roster, then course collect {lab.id} again"),
    ]
    for label, names, todo in rows:
        line = f"{label:<15} {len(names):>4}"
        if names and label not in ("collected", "graded"):
            line += f"  {_names(names)}"
            if todo:
                line += f"  -> {todo}"
        print(line)
    return 0


@_friendly
def cmd_export(course: Course, args: argparse.Namespace) -> int:
    """Write the full marks CSV and the Moodle grade-import CSV."""
    from autograder.record.export import export_marks

    report = export_marks(course, _db(course, args), Path(args.out) if args.out else None, identifier=args.identifier)
    print(f"{report.students} students: {report.full_csv} and {report.moodle_csv}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 1 if report.warnings else 0


@_friendly
def cmd_publish(course: Course, args: argparse.Namespace) -> int:
    """Write the student-facing repository into a folder."""
    from autograder.authoring.publish import publish

    report = publish(course, Path(args.dir))
    print(f"published {', '.join(report.written)} into {report.target} (package {report.package})")
    if report.untouched:
        print(f"left as they were: {', '.join(report.untouched)}")
    print(f"next: commit and push it, and tag it {course.public_ref} if that is a tag")
    return 0


def add_workflow_commands(sub: argparse._SubParsersAction) -> None:
    """Register roster, collect, feedback, export and publish on the ``course`` parser."""

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db-url", default=None, help="gradebook SQLAlchemy URL (default: grading/gradebook.db)")

    p = sub.add_parser("roster", help="the class list in the gradebook (import, list)")
    actions = p.add_subparsers(dest="roster_command", required=True)
    q = actions.add_parser("import", help="import a roster CSV: id, first/last name (or name), email")
    q.add_argument("file", help="CSV file exported from the LMS or a spreadsheet")
    db_option(q)
    q.set_defaults(func=cmd_roster_import)
    q = actions.add_parser("list", help="print the roster")
    db_option(q)
    q.set_defaults(func=cmd_roster_list)

    p = sub.add_parser("collect", help="file an LMS download (Moodle zip) or a folder into grading/submitted")
    p.add_argument("lab", help="lab id or number")
    p.add_argument("source", help="Moodle bulk-download zip, another zip, or a folder of <student>.ipynb or <student>/<files>")
    p.add_argument("--timestamp", default=None, help="submission time for every entry (ISO 8601), instead of file times")
    p.add_argument("--timezone", default=None, help="zone of zip file times and --timestamp without offset (default: this machine's)")
    p.add_argument("--replace", action="store_true", help="file entries even when older than the copy already collected")
    db_option(p)
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("feedback", help="HTML feedback per student: points, hints, comments, penalty")
    p.add_argument("lab", help="lab id or number")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--zip", action="store_true", help="also write one zip per student to hand back")
    p.add_argument("--no-answers", action="store_true", help="leave the student's own answers off the page")
    p.add_argument(
        "--preview",
        metavar="STUDENT",
        default=None,
        help="write only this student's page and print its path (opened in a browser when $BROWSER or a display is set)",
    )
    db_option(p)
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("status", help="one screen on a lab: collected, graded, pending manual, late, rejected")
    p.add_argument("lab", help="lab id or number")
    db_option(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("export", help="marks CSVs: full (raw, penalty, final, status) and Moodle grade import")
    p.add_argument("--out", default=None, help="output folder (default: grading/export)")
    p.add_argument("--identifier", choices=["email", "idnumber"], default="email", help="Moodle user field of the first column")
    db_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("publish", help="write the student-facing repository (labs, course_utils, README) into DIR")
    p.add_argument("dir", help="folder of the public repository (a git checkout is fine: .git is left alone)")
    p.set_defaults(func=cmd_publish)
