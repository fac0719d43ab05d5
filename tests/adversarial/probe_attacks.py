"""Hostile submissions aimed at the probe/judge boundary, for the toy lab.

The toy lab has Q1 `double` (2 points), Q2 `square` (3 points) and a written answer. A
probe runs in the student's kernel right after each test cell's visible checks and sends
back plain data; the judge in the grader decides. Every case here attacks that: the probe's
own machinery, the data channel, the values the probe reads, or the grader's files. Each
earns exactly what its honest part deserves.
"""

from __future__ import annotations

from adversarial.cases import DOUBLE_OK, DOUBLE_WRONG, SQUARE_OK, Case

SQUARE_WRONG = "def square(x):\n    return 2 * x"


def _literal(code: str) -> str:
    """An extra cell's code with its braces escaped (extras are filled in with str.format)."""
    return code.replace("{", "{{").replace("}", "}}")
MIME = "application/x-course-probe+json"

# A background thread that keeps publishing a forged "correct" answer for Q1 while probes run.
_FORGER_THREAD = f"""
import threading, time
from IPython.display import publish_display_data
def _forge():
    for _ in range(400):
        publish_display_data({{{MIME!r}: {{'ok': True, 'nonce': 'guess', 'data': {{'tree': {{'inputs': [21], 'outputs': [42]}}, 'arrays': []}}}}}})
        time.sleep(0.01)
threading.Thread(target=_forge, daemon=True).start()
"""

# Intercepts the probe's call: reads the nonce the grader sent, publishes a record of its
# own with made-up values under that nonce (so there are two answers, or a forged one).
_NONCE_THIEF = f"""
import builtins
from IPython.display import publish_display_data
_real_exec = builtins.exec
def _exec(code, scope=None, *rest):
    call = (scope or {{}}).get('__course_call__')
    if call:
        publish_display_data({{{MIME!r}: {{'ok': True, 'nonce': call[0], 'data': {{'tree': {{'inputs': [], 'outputs': []}}, 'arrays': []}}}}}})
    return _real_exec(code, scope, *rest)
builtins.exec = _exec
"""

# Replaces the probe runtime's publisher with one that rewrites every answer to what the
# student wishes (here: a constant) under the right nonce.
_REWRITER = f"""
import IPython.display as _display
_real = _display.publish_display_data
def _rewrite(data, *args, **kwargs):
    record = data.get({MIME!r})
    if record and record.get('ok'):
        record['data']['tree'] = {{'inputs': [], 'outputs': [0] * 6, 'data': [1, 4, 9], 'drawn': [], 'squares': [1.0, 1.0, 1.0]}}
    return _real(data, *args, **kwargs)
_display.publish_display_data = _rewrite
"""

# Swaps the right code in only while a visible check runs, the wrong code otherwise.
_TEST_AWARE_SWAP = """
def double(x):
    return 0
_wrong = double.__code__
def _right(x):
    return 2 * x
def _before(info):
    double.__code__ = _right.__code__ if 'assert double' in (info.raw_cell or '') else _wrong
get_ipython().events.register('pre_run_cell', _before)
"""

# Right while the visible check runs; swapped for wrong code as soon as that check has passed.
_SWAP_AFTER_CHECKS = """
def _after(result):
    if 'assert double' in (result.info.raw_cell or ''):
        double.__code__ = (lambda x: 0).__code__
get_ipython().events.register('post_run_cell', _after)
"""

PROBE_CASES: list[Case] = [
    Case("blocks_exec", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, extra="import builtins\nbuiltins.exec = lambda *a, **k: None", score=0, flag="builtins"),
    # IPython itself compiles with builtins.compile: the kernel hangs on the next cell and is stopped.
    Case("blocks_compile", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, extra="import builtins\nbuiltins.compile = lambda *a, **k: 1 / 0", score=0, flag="builtins", status="stopped"),
    Case("silences_publisher", {"q1-double": DOUBLE_OK}, extra="import IPython.display as d\nd.publish_display_data = lambda *a, **k: None", score=0, flag="publishes raw display data"),
    Case("forger_thread", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_OK}, extra=_literal(_FORGER_THREAD), score=3, flag="publishes raw display data"),
    Case("steals_the_nonce", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_WRONG}, extra=_literal(_NONCE_THIEF), score=0, flag="builtins"),
    Case("rewrites_answers", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_WRONG}, extra=_literal(_REWRITER), score=0, flag="publishes raw display data"),
    Case(
        "replays_an_old_record",
        {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_WRONG},
        extra=_literal(f"from IPython.display import publish_display_data\npublish_display_data({{{MIME!r}: {{'ok': True, 'nonce': 'old', 'data': {{'tree': {{'half': 2.25}}, 'arrays': []}}}}}})"),
        score=0,
        flag="publishes raw display data",
    ),
    Case("test_aware_code_swap", {"q1-double": _TEST_AWARE_SWAP, "q2-square": SQUARE_OK}, score=3, flag="code object"),
    Case("swaps_code_after_checks", {"q1-double": DOUBLE_OK + _SWAP_AFTER_CHECKS, "q2-square": SQUARE_OK}, score=3, flag="code object"),
    Case(
        "liar_tensor",
        {"q1-double": "import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n        return True\ndef double(x):\n    return np.zeros(1).view(Liar)", "q2-square": SQUARE_OK},
        score=3,
        flag="__eq__",
    ),
    Case(
        "array_protocol_trick",
        {"q1-double": "class Fake:\n    def __array__(self, *a, **k):\n        import numpy\n        return numpy.array(42.0)\n    def __float__(self):\n        return 42.0\ndef double(x):\n    return Fake()", "q2-square": SQUARE_OK},
        score=3,
    ),
    Case(
        "torch_function_trick",
        {
            "q1-double": "import torch\nclass Sly(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return torch.tensor(42.0)\ndef double(x):\n    return torch.tensor(0.0).as_subclass(Sly)",
            "q2-square": SQUARE_OK,
        },
        score=3,
    ),
    Case("float_subclass", {"q1-double": "class F(float):\n    def __eq__(self, o):\n        return True\ndef double(x):\n    return F(0)", "q2-square": SQUARE_OK}, score=3, flag="__eq__"),
    Case("returns_nan", {"q1-double": "def double(x):\n    return float('nan')", "q2-square": SQUARE_OK}, score=3),
    Case("exits_inside_the_answer", {"q1-double": "import sys\ndef double(x):\n    sys.exit(0)", "q2-square": SQUARE_OK}, score=3, flag="calls exit()"),
    Case("infinite_recursion", {"q1-double": "def double(x):\n    return double(x)", "q2-square": SQUARE_OK}, score=3),
    Case("hangs_inside_the_answer", {"q1-double": "import time\ndef double(x):\n    while True:\n        time.sleep(0.1)", "q2-square": SQUARE_OK}, score=3, status="graded"),
    Case("huge_answer", {"q1-double": "def double(x):\n    return list(range(400_000))", "q2-square": SQUARE_OK}, score=3),
    Case(
        "predictable_inputs",
        {"q1-double": "import random\nrandom.Random.randint = lambda self, a, b: 0\ndef double(x):\n    return 2 * x if x in (21, -3) else 0", "q2-square": SQUARE_OK},
        score=3,
        flag="replaces a library attribute",
    ),
    Case("shrinks_the_data", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, extra="DATA.clear()", score=2),
    Case("shadows_probe_names", {"q1-double": DOUBLE_OK, "q2-square": SQUARE_OK}, extra="probe = judge = expect = None\n__course_call__ = ('x', '', 0)", score=5, flag="probe call"),
    Case(
        "fake_autograder_package",
        {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_OK},
        extra="import os\nos.makedirs('autograder/judge', exist_ok=True)\nfor p in ('autograder/__init__.py', 'autograder/judge/__init__.py'):\n    open(p, 'w').close()\nopen('autograder/judge/expect.py', 'w').write('def true(*a, **k):\\n    pass\\ndef equal(*a, **k):\\n    pass\\ndef close(*a, **k):\\n    pass\\n')",
        score=3,
    ),
    Case("reads_the_reference", {"q1-double": DOUBLE_OK}, extra="import glob\nfound = glob.glob({reference!r} + '/**', recursive=True)\nassert not found, found", score=2),
    Case("reads_grader_environment", {"q1-double": DOUBLE_OK}, extra="import os\nleak = open('/proc/1/environ', 'rb').read() + repr(dict(os.environ)).encode()\nassert b'COURSE_GRADER_CANARY' not in leak, 'the grader environment leaked'", score=2),
    Case("patches_numpy_and_math", {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_WRONG}, extra="import math, numpy\nmath.isclose = numpy.isclose = numpy.allclose = lambda *a, **k: True", score=0, flag="replaces a library attribute"),
    Case(
        "patches_course_utils",
        {"q1-double": DOUBLE_WRONG, "q2-square": SQUARE_OK},
        extra="import course_utils\ncourse_utils.check_close = course_utils.check_type = lambda *a, **k: None",
        score=3,
        flag="replaces a library attribute",
    ),
]
