"""The ``course`` command: one sub-command per instructor step, thin over nbgrader."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from pathlib import Path

from autograder.course import Course, CourseError, load_course
from autograder.sandbox.execute import Limits
from autograder.grade import SandboxUnavailable
from autograder.judge.reference import ReferenceBroken
from autograder.sandbox.labdata import DataNotReady
from autograder.authoring.notebooks import NotebookError


def _labs(course: Course, names: list[str]):
    return [course.lab(n) for n in names] if names else list(course.labs)


def cmd_build(course: Course, args: argparse.Namespace) -> int:
    """Generate releases and Colab links (or check they are current)."""
    from autograder.authoring.build import build

    report = build(course, check=args.check, labs=_labs(course, args.labs) if args.labs else None)
    if args.check:
        for line in report.differences:
            print(f"out of date: {line}")
        if report.differences:
            print("run `course build` and commit the result")
            return 1
        print(f"releases and colab links are up to date ({len(args.labs or course.labs)} labs)")
        return 0
    for line in report.written:
        print(f"wrote {line}")
    for line in report.differences:
        print(f"warning: {line}")
    print(f"built {len(args.labs or course.labs)} labs ({len(report.written)} files changed)")
    return 0


def cmd_validate(course: Course, args: argparse.Namespace) -> int:
    """Check solutions score full marks and releases zero, in fast mode."""
    from autograder.authoring.validate import validate_labs

    labs = _labs(course, args.labs)
    start = time.monotonic()
    verdicts = validate_labs(course, labs, _limits(args), workers=args.workers, progress=not args.quiet)
    failed = 0
    for v in verdicts:
        sol, rel = v.solution, v.release
        timing = f"solution {sol.duration_s:.1f} s, release {rel.duration_s:.1f} s" if sol and rel else ""
        score = f"{sol.auto_score:g}/{sol.auto_max:g}" if sol else "?"
        print(f"{'ok  ' if v.ok else 'FAIL'} {v.lab}: solution {score} autograded points; {timing}")
        for problem in v.problems:
            print(f"     - {problem}")
        failed += not v.ok
    print(f"{len(verdicts) - failed}/{len(verdicts)} labs valid in {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


def cmd_grade(course: Course, args: argparse.Namespace) -> int:
    """Autograde a folder of submissions."""
    from autograder.grade import format_table, grade_lab

    lab = course.lab(args.lab)
    report = grade_lab(course, lab, Path(args.submissions), _grade_options(args), db_url=args.db_url)
    print(format_table(report.results))
    print_review_list(report.results)
    if report.skipped:
        print(f"{len(report.skipped)} unchanged submissions were not regraded (--force regrades them)")
    print(f"marks: {report.marks_csv.relative_to(course.root)}; details: {report.report_json.relative_to(course.root)}")
    return 0


def cmd_data(course: Course, args: argparse.Namespace) -> int:
    """Ready the datasets of the given labs (default: all) in the data cache."""
    from course_utils.data.cache import cache_dir
    from course_utils.data.registry import entries

    from autograder.sandbox.labdata import prepare_lab_data

    labs = _labs(course, args.labs)
    described = entries()
    print(f"data cache: {cache_dir()}")
    readied = prepare_lab_data(
        labs, lambda r: print(f"ready  {r.name:16s} {described[r.name].description} ({r.seconds:.1f} s; first needed by {r.lab})")
    )
    without = [lab.id for lab in labs if not lab.data]
    if without:
        print(f"no datasets to ready for: {', '.join(without)}")
    print(f"{len(readied)} datasets ready")
    return 0


def cmd_demo(course: Course, args: argparse.Namespace) -> int:
    """Build, make example submissions, grade them in a throwaway copy of the course, print the marks."""
    import tempfile

    from autograder.authoring.build import build
    from autograder.authoring.demo import throwaway_course, write_demo_submissions
    from autograder.grade import format_table, grade_lab
    from autograder.layout import demo_submissions_dir, grading_root

    build(course)
    lab = course.lab(args.lab) if args.lab else course.labs[0]
    with tempfile.TemporaryDirectory(prefix="course-demo-") as scratch:
        # The demo's students are fake: they are graded in a copy of the course (its own
        # grading/ and gradebook), never in this course's grading/ folder.
        demo = throwaway_course(course, lab, Path(args.dir) if args.dir else Path(scratch) / "course")
        folder = demo_submissions_dir(demo, lab)
        names = write_demo_submissions(demo, lab, folder)
        print(f"built the releases; grading {len(names)} example submissions of {lab.id} ({', '.join(names)}) in a throwaway course")
        # The example submissions are the course's own notebooks: trusted, so grading them
        # without a sandbox (on a machine that has none) is safe here.
        options = dataclasses.replace(_grade_options(args), allow_unsandboxed=True, force=True)
        report = grade_lab(demo, demo.lab(lab.id), folder, options)
        print(format_table(report.results))
        print_review_list(report.results)
        if args.dir:
            print(f"demo course kept in {demo.root} (gradebook {grading_root(demo) / 'gradebook.db'}); {grading_root(course)} untouched")
        else:
            print(f"graded in a throwaway course, now deleted (--dir DIR keeps it); {grading_root(course)} untouched")
    return 0


def print_review_list(results) -> None:
    """Print the submissions a human should look at, with the reasons."""
    flagged = [r for r in results if r.flags or r.repairs]
    if not flagged:
        return
    print("\nfor review:")
    for result in flagged:
        for reason in result.flags:
            print(f"  {result.student}: {reason}")
        for repair in result.repairs:
            print(f"  {result.student}: {repair}")


def _grade_options(args: argparse.Namespace):
    from autograder.grade import GradeOptions
    from autograder.sandbox.sandbox import SandboxLimits

    return GradeOptions(
        workers=args.workers,
        limits=_limits(args),
        progress=not args.quiet,
        sandbox=SandboxLimits(memory_mb=args.memory_mb, pids=args.max_pids),
        allow_unsandboxed=args.unsafe_no_sandbox,
        force=getattr(args, "force", False),
        seed=getattr(args, "seed", None),
        scheduler=getattr(args, "scheduler", None),
    )


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(cell_timeout_s=args.cell_timeout, notebook_timeout_s=args.notebook_timeout, threads=args.threads)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``course``."""
    parser = argparse.ArgumentParser(prog="course", description="Build, validate and grade the course's lab notebooks.")
    parser.add_argument("--root", type=Path, default=None, help="course repository (default: found from the current directory)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="generate labs/ and colab_links.md from solutions/")
    p.add_argument("labs", nargs="*", help="labs to build (default: all), e.g. lab03 or 3")
    p.add_argument("--check", action="store_true", help="only check that the committed files are up to date")
    p.set_defaults(func=cmd_build)

    def run_options(p: argparse.ArgumentParser, workers: int) -> None:
        p.add_argument("--workers", type=int, default=workers, help="parallel kernels (0: one per core)")
        defaults = Limits()
        p.add_argument(
            "--cell-timeout",
            type=int,
            default=defaults.cell_timeout_s,
            help=f"wall-clock seconds one cell may run (generous: a cell over {defaults.cell_normal_s} s is flagged for a re-run)",
        )
        p.add_argument(
            "--notebook-timeout",
            type=int,
            default=defaults.notebook_timeout_s,
            help=f"wall-clock seconds one notebook may run (one over {defaults.notebook_normal_s} s is flagged for a re-run)",
        )
        p.add_argument(
            "--threads",
            type=int,
            default=defaults.threads,
            help="threads per kernel, the same whatever the number of workers (default: 1)",
        )
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("validate", help="solutions score full marks, releases zero (fast mode)")
    p.add_argument("labs", nargs="*", help="lab ids or numbers (default: all)")
    run_options(p, workers=2)
    p.set_defaults(func=cmd_validate)

    def sandbox_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--memory-mb", type=int, default=4096, help="memory limit per kernel (MiB)")
        p.add_argument("--max-pids", type=int, default=256, help="process/thread limit per kernel")
        p.add_argument(
            "--unsafe-no-sandbox",
            action="store_true",
            help="grade even where no sandbox works: submissions then run with YOUR permissions",
        )

    p = sub.add_parser("grade", help="autograde a folder of submissions")
    sandbox_options(p)
    p.add_argument("--force", action="store_true", help="regrade submissions that have not changed")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the hidden tests' seed (default: the one recorded for this lab, drawn at its first grading); "
        "a new seed regrades everyone",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="run notebooks on a Dask cluster: a scheduler address (tcp://host:8786) or 'local'",
    )
    p.add_argument("lab", help="lab id or number")
    p.add_argument("submissions", help="folder of <student>.ipynb or <student>/<notebook>")
    p.add_argument("--db-url", default=None, help="gradebook SQLAlchemy URL (default: grading/gradebook.db)")
    run_options(p, workers=0)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("data", help="download or unpack the labs' datasets into the data cache (offline machines, grading)")
    p.add_argument("labs", nargs="*", help="lab ids or numbers (default: all)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("demo", help="build, grade example submissions and print the marks")
    sandbox_options(p)
    p.add_argument("--lab", default=None, help="lab to demonstrate (default: the first)")
    p.add_argument("--dir", default=None, help="keep the throwaway demo course (its grading/ and gradebook) in this new folder")
    run_options(p, workers=0)
    p.set_defaults(func=cmd_demo)

    from autograder.cli.workflow import add_workflow_commands  # roster, collect, feedback, export, publish

    add_workflow_commands(sub)
    return parser


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: workers and kernels are stopped on the way out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``course`` console script."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        course = load_course(args.root)
        return args.func(course, args)
    except KeyboardInterrupt:
        print("course: interrupted; what was recorded is kept (rerun to resume)", file=sys.stderr)
        return 130
    except (CourseError, NotebookError, FileNotFoundError, SandboxUnavailable, DataNotReady, ReferenceBroken) as error:
        print(f"course: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
