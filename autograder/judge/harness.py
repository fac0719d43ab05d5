"""Proof that a test cell's own code ran to the end, and helpers students cannot swap out.

Before any student code runs, a silent *prelude* (never stored in the kernel's history)
captures the comparison helpers tests rely on and a per-run secret held only inside a
closure. Each autograded test cell is then executed as ``__course_run_test__(id, code)``:
that function first restores any watched helper a student replaced (reporting which), runs
the test code with the original ``exec``, and only if it finishes publishes a proof, an
HMAC of the cell id under the secret. The grader accepts a test as passed only with a valid
proof: blanked cells, swallowed tracebacks, killed kernels and rewritten outputs all lack it.

Limits, stated honestly: code in the same process can in principle reach any object
through frame, closure or garbage-collector introspection. Such code is conspicuous, and
the static scan in :mod:`autograder.review.suspicion` flags it for a human.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field

from nbformat import NotebookNode

PROOF_MIME = "application/x-course-proof+json"

# Helpers hidden tests compare with, restored before every test cell if a student replaced them.
WATCHED = {
    "builtins": ["isinstance", "issubclass", "type", "len", "abs", "all", "any", "float", "int", "round", "sum", "min", "max", "print", "repr", "str", "range", "zip", "sorted", "list", "tuple", "dict", "set", "__import__", "exec", "compile", "getattr", "setattr", "hasattr", "AssertionError"],
    "math": ["isclose", "isfinite", "isnan", "sqrt", "fabs"],
    "numpy": ["allclose", "isclose", "array_equal", "asarray", "array", "abs", "all", "any", "isfinite", "isnan", "linalg"],
    "numpy.testing": ["assert_allclose", "assert_array_equal", "assert_equal"],
    "numpy.linalg": ["svd", "norm", "lstsq", "pinv"],
    "torch": ["allclose", "isclose", "equal", "is_tensor", "tensor", "as_tensor", "from_numpy", "linalg", "no_grad", "testing"],
    "torch.linalg": ["svd", "norm", "lstsq", "pinv"],
    "torch.testing": ["assert_close"],
    "course_utils.checks": ["check_close", "check_dtype", "check_gradient", "check_shape", "check_type", "numerical_gradient", "_as_numpy", "_shape_of", "_fail"],
    # Tests import the checks from the package too (`from course_utils import check_close`), and
    # rebuild their data with the loaders (a replaced loader could shrink a held-out set).
    "course_utils": ["CheckFailed", "budget", "check_close", "check_dtype", "check_gradient", "check_shape", "check_type", "passed"],
    "course_utils.data": ["load_fashion_mnist", "load_glove", "load_mnist", "load_movielens_100k", "subset"],
    "course_utils.data.glove": ["load_glove"],
    "course_utils.data.mnist": ["load_fashion_mnist", "load_mnist", "subset"],
    "course_utils.data.movielens": ["load_movielens_100k"],
}
OPTIONAL_IMPORTS = ("numpy", "torch", "course_utils.checks", "course_utils.data")

_PRELUDE = r'''
def __course_install(secret, watched, optional):
    import builtins, hashlib, hmac, importlib, json, sys
    for name in optional:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    originals = []
    for modname, names in watched.items():
        module = sys.modules.get(modname)
        for name in names if module is not None else ():
            if hasattr(module, name):
                originals.append((modname, module, name, getattr(module, name)))
    shell = get_ipython()
    namespace = shell.user_ns
    from IPython.display import publish_display_data as publish
    run_code, compile_code = builtins.exec, builtins.compile
    key = hashlib.sha256(secret.encode()).digest()
    def restore():
        changed = []
        for modname, module, name, original in originals:
            if getattr(module, name, None) is not original:
                changed.append(modname + "." + name)
                setattr(module, name, original)
        return changed
    def run_test(cell_id, code):
        changed = restore()
        run_code(compile_code(code, "<autograder test " + cell_id + ">", "exec"), namespace)
        changed += restore()
        mac = hmac.new(key, cell_id.encode(), hashlib.sha256).hexdigest()
        publish({%(mime)r: {"cell": cell_id, "mac": mac, "restored": sorted(set(changed))}})
    builtins.__course_run_test__ = run_test
'''


def imported_modules(nb: NotebookNode) -> list[str]:
    """Those of the optional watched modules that the notebook's code imports."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = []
    for module in OPTIONAL_IMPORTS:
        top = re.escape(module.split(".")[0])
        if re.search(rf"^\s*(import|from)\s+{top}\b", code, flags=re.MULTILINE):
            found.append(module)
    return found


@dataclass
class ProofSession:
    """The harness side of one kernel run: its secret, and what the proofs said."""

    imports: list[str] = field(default_factory=list)  # modules to import before student code
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    proven: set[str] = field(default_factory=set)
    restored: set[str] = field(default_factory=set)

    def prelude(self) -> str:
        """The silent code to run first in the kernel, before any student code."""
        return (
            _PRELUDE % {"mime": PROOF_MIME}
            + f"\n__course_install({self.secret!r}, {json.dumps(WATCHED)}, {list(self.imports)!r})\ndel __course_install\n"
        )

    def wrap(self, cell_id: str, source: str) -> str:
        """The code actually sent for a test cell: its source run through the trusted runner."""
        return f"__course_run_test__({cell_id!r}, {source!r})"

    def expected_mac(self, cell_id: str) -> str:
        """The proof a completed run of test cell ``cell_id`` publishes."""
        key = hashlib.sha256(self.secret.encode()).digest()
        return hmac.new(key, cell_id.encode(), hashlib.sha256).hexdigest()

    def collect(self, cell: NotebookNode, cell_id: str) -> None:
        """Check and remove the proof outputs of an executed test cell, remembering the verdict."""
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") in ("display_data", "execute_result") else {}
            if PROOF_MIME not in data:
                kept.append(output)
                continue
            proof = data[PROOF_MIME]
            if isinstance(proof, dict) and proof.get("cell") == cell_id and hmac.compare_digest(str(proof.get("mac", "")), self.expected_mac(cell_id)):
                self.proven.add(cell_id)
                self.restored.update(str(name) for name in proof.get("restored", []))
        cell["outputs"] = kept
