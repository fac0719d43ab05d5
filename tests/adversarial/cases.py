"""Hostile submissions to the toy lab (tests/toy_course.py), each with the mark it deserves.

Every case starts from the student release and fills in answer cells or adds cells. The
expected score is what the *honest* part of the submission earns: attacks must gain
nothing, and must not change anyone else's mark. Placeholders in braces ({solutions},
{gradebook}, {other}, {port}, {reference}) are filled in by the test with real paths and a port.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from nbformat.v4 import new_code_cell

from autograder.review.restore import grade_id_of

DOUBLE_OK = "def double(x):\n    return 2 * x"
DOUBLE_WRONG = "def double(x):\n    return 0"
SQUARE_OK = "def square(x):\n    return x * x"


@dataclass(frozen=True)
class Case:
    """One submission: what to write where, the score it deserves, and a flag it must raise."""

    name: str
    answers: dict[str, str]  # grade id of an answer cell -> its new source
    extra: str | None = None  # a cell added right after the imports cell
    edit: Callable | None = None  # further edits to the notebook's cells
    score: float = 0.0
    flag: str | None = None  # a substring expected among the review flags or repairs
    status: str = "graded"
    notes: list[str] = field(default_factory=list)


def _set_source(grade_id: str, source: str) -> Callable:
    def edit(cells: list) -> list:
        for cell in cells:
            if grade_id_of(cell) == grade_id:
                cell.source = source
        return cells

    return edit


def _set_metadata(cells: list) -> list:
    for cell in cells:
        if grade_id_of(cell) == "q1-double-tests":
            cell.metadata["nbgrader"]["points"] = 100
            cell.metadata["nbgrader"]["grade"] = False
    return cells


def _delete_q2_tests(cells: list) -> list:
    return [c for c in cells if grade_id_of(c) != "q2-square-tests"]


def _duplicate_q1_tests(cells: list) -> list:
    out = []
    for cell in cells:
        if grade_id_of(cell) == "q1-double-tests":
            fake = copy.deepcopy(cell)
            fake.source = "pass"
            fake["id"] = "fake-tests"
            out.append(fake)
        out.append(cell)
    return out


LOOP_FOREVER = "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except KeyboardInterrupt:\n        pass"

CASES: list[Case] = [
    Case("honest_full", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, score=5),
    Case("honest_half", {"q1-double": DOUBLE_OK}, score=2),
    Case("reads_solutions", {"q1-double": DOUBLE_OK}, extra="leak = open({solutions!r}).read()", score=2, flag="outside its working directory"),
    Case("writes_gradebook", {"q1-double": DOUBLE_OK}, extra="open({gradebook!r}, 'w').write('')", score=2, flag="outside its working directory"),
    Case("overwrites_classmate", {"q1-double": DOUBLE_OK}, extra="open({other!r}, 'w').write('{{}}')", score=2, flag="outside its working directory"),
    Case(
        "blanks_later_cells",
        {"q1-double": DOUBLE_WRONG},
        extra="get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
        score=0,
        flag="input transformer",
    ),
    Case(
        "hides_tracebacks",
        {"q1-double": DOUBLE_WRONG, "q2-square": "def square(x):\n    return -1"},
        extra="get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
        score=0,
        flag="custom exception handler",
    ),
    Case("os_exit", {"q1-double": DOUBLE_OK, "q2-square": "import os\nos._exit(0)"}, score=2, flag="kernel died", status="stopped"),
    Case("sys_exit", {"q1-double": DOUBLE_OK, "q2-square": "import sys\nsys.exit(0)"}, score=2, flag="calls exit()"),
    Case("infinite_loop", {"q1-double": DOUBLE_OK, "q2-square": LOOP_FOREVER}, score=2, flag="limit", status="stopped"),
    Case(
        "memory_bomb",
        {"q1-double": DOUBLE_OK, "q2-square": "hog = bytearray(3 * 2**30)\nhog[::4096] = b'x' * len(hog[::4096])"},
        score=2,
        flag="kernel died",
        status="stopped",
    ),
    Case(
        "process_flood",
        {
            "q1-double": DOUBLE_OK,
            "q2-square": "import subprocess\nkids = []\nfor _ in range(400):\n    try:\n        kids.append(subprocess.Popen(['sleep', '120']))\n    except OSError:\n        break\nprint(len(kids), 'processes')\n"
            + SQUARE_OK,
        },
        score=5,
        flag="subprocess",
    ),
    Case(
        "leaves_a_daemon",
        {
            "q1-double": DOUBLE_OK,
            "q2-square": "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 120'], start_new_session=True)\n" + SQUARE_OK,
        },
        score=5,
        flag="subprocess",
    ),
    Case(
        "phones_home",
        {"q1-double": DOUBLE_OK},
        extra="import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'secret')",
        score=2,
        flag="network",
    ),
    Case(
        "patches_a_helper",
        {"q1-double": DOUBLE_OK, "q2-square": "import math\nmath.isclose = lambda *args, **kwargs: True\ndef square(x):\n    return int(x) ** 2"},
        score=2,
        flag="math.isclose",
    ),
    Case(
        "always_equal",
        {"q1-double": "class Liar:\n    def __eq__(self, other):\n        return True\n\ndef double(x):\n    return Liar()", "q2-square": SQUARE_OK},
        score=3,
        flag="__eq__",
    ),
    Case("edits_a_test_cell", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_OK}, edit=_set_source("q1-double-tests", "pass"), score=3, flag="restored from the source"),
    Case("edits_metadata", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_OK}, edit=_set_metadata, score=3),
    Case("deletes_a_test_cell", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, edit=_delete_q2_tests, score=5, flag="re-added"),
    Case("duplicates_a_test_cell", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_OK}, edit=_duplicate_q1_tests, score=3, flag="duplicate"),
    Case("floods_output", {"q1-double": DOUBLE_OK, "q2-square": "print('x' * (64 * 2**20))\n" + SQUARE_OK}, score=5),
    Case("imports_the_grader", {"q1-double": DOUBLE_OK}, extra="import autograder", score=2, flag="imports the autograder"),
    Case(
        "kills_everything",
        {"q1-double": DOUBLE_OK, "q2-square": "import os, signal\nfor pid in range(1, 64):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass"},
        score=2,
        flag="signals",
        status="stopped",
    ),
]


def _flood_across_cells(cells: list) -> list:
    """Twelve cells of 900 kB each: under the per-cell cap, over the whole notebook's 8 MiB."""
    position = next(i for i, c in enumerate(cells) if "DATA = " in c.source) + 1
    return cells[:position] + [new_code_cell("print('y' * 900_000)") for _ in range(12)] + cells[position:]


FILL_DISK = (
    "chunk = b'z' * 2**20\n"
    "for path in ('fill.bin', '/tmp/fill.bin'):\n"
    "    try:\n"
    "        with open(path, 'wb') as handle:\n"
    "            for _ in range(4096):\n"
    "                handle.write(chunk)\n"
    "    except OSError as error:\n"
    "        print(path, error)"
)

# The sandbox gives nothing away, and its limits stop floods with a clear message (docs/grading.md).
CASES += [
    Case(
        "reads_root_only_files",
        {
            "q1-double": DOUBLE_OK,
            "q2-square": "try:\n    open('/etc/shadow').read()\n    LEAKED = True\nexcept OSError:\n    LEAKED = False\n\n"
            "def square(x):\n    return x * x if LEAKED else -1",
        },
        score=2,
    ),
    Case("floods_output_across_cells", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, edit=_flood_across_cells, score=5, flag="whole notebook"),
    Case("fills_the_disk", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, extra=FILL_DISK, score=5, flag="size-capped"),
    Case(
        "ignores_sigint",
        {"q1-double": DOUBLE_OK, "q2-square": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"},
        score=2,
        flag="ignored the interrupt",
        status="stopped",
    ),
]


from adversarial.probe_attacks import PROBE_CASES  # noqa: E402 - they reuse this module's Case and answers

CASES += PROBE_CASES


def build_submission(release, case: Case, values: dict[str, object]):
    """The notebook a student following ``case`` would hand in."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = grade_id_of(cell)
        if gid in case.answers:
            cell.source = case.answers[gid]
    if case.extra is not None:
        position = next(i for i, c in enumerate(nb.cells) if "DATA = " in c.source) + 1
        nb.cells.insert(position, new_code_cell(case.extra.format(**values)))
    if case.edit is not None:
        nb.cells = case.edit(nb.cells)
    return nb
