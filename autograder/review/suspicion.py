"""A static scan of the code a student wrote, for things a human should look at.

Nothing here changes a mark: it lists reasons for manual review (tampering with the
grader, the interpreter or library helpers; file, process and network access; objects
that lie about equality). Runtime evidence (kernel deaths, timeouts, limits hit) is added
by the grader. Marks come only from the judges (:mod:`autograder.judge`).
"""

from __future__ import annotations

import ast

from nbformat import NotebookNode
from nbgrader.utils import is_locked

SUSPICIOUS_ATTRIBUTES = {
    "input_transformers_post": "registers an IPython input transformer (can rewrite or blank later cells)",
    "input_transformers_cleanup": "registers an IPython input transformer (can rewrite or blank later cells)",
    "input_transformer_manager": "touches IPython's input transformers",
    "ast_transformers": "registers an AST transformer (can rewrite later cells)",
    "set_custom_exc": "installs a custom exception handler (can hide tracebacks)",
    "showtraceback": "touches IPython's traceback display",
    "_showtraceback": "touches IPython's traceback display",
    "excepthook": "replaces an exception hook",
    "settrace": "installs a tracer (can alter running code)",
    "setprofile": "installs a profiler hook",
    "_getframe": "inspects interpreter frames",
    "f_back": "walks interpreter frames",
    "f_locals": "reads other frames' variables",
    "f_globals": "reads other frames' globals",
    "tb_frame": "walks traceback frames",
    "__closure__": "reads function closures",
    "cell_contents": "reads function closures",
    "get_objects": "scans the garbage collector's objects",
    "get_referrers": "scans the garbage collector's objects",
    "get_referents": "scans the garbage collector's objects",
    "display_pub": "touches IPython's display publisher",
    "do_execute": "touches the kernel's execute handler",
    "user_expressions": "touches the kernel's expression evaluation",
    "addaudithook": "installs an audit hook",
    "__code__": "swaps a function's code object",
    "publish_display_data": "publishes raw display data (the channel probes answer on)",
    "_exit": "exits the interpreter abruptly (os._exit)",
    "fork": "forks processes",
    "kill": "sends signals to processes",
    "killpg": "sends signals to process groups",
    "system": "runs shell commands",
}
SUSPICIOUS_NAMES = {
    "__course_call__": "refers to the grader's probe call",
    "__course_probe_runtime__": "refers to the grader's probe runtime",
    "publish_display_data": "publishes raw display data (the channel probes answer on)",
    "__builtins__": "touches the builtins namespace",
    "get_ipython": None,  # common and harmless alone; attribute checks above cover misuse
}
SUSPICIOUS_IMPORTS = {
    "autograder": "imports the autograder",
    "nbgrader": "imports nbgrader",
    "ctypes": "imports ctypes (raw memory access)",
    "socket": "imports socket (network access)",
    "subprocess": "imports subprocess (runs programs)",
    "multiprocessing": "imports multiprocessing (starts processes)",
    "gc": "imports gc (object introspection)",
    "signal": "imports signal",
    "urllib.request": "imports urllib.request (network access)",
    "requests": "imports requests (network access)",
    "http.client": "imports http.client (network access)",
}
LYING_DUNDERS = {"__eq__", "__ne__", "__bool__", "__torch_function__", "__array_function__", "__array_ufunc__", "__instancecheck__", "__class__"}
LIBRARY_ROOTS = {"np", "numpy", "torch", "math", "random", "builtins", "course_utils", "checks", "sys", "os", "IPython", "nbformat", "scipy", "sklearn"}


def _python_source(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _path_constant(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        if text.startswith(("/", "~")) or ".." in text.replace("\\", "/").split("/"):
            return text
    return None


def scan_source(source: str) -> list[str]:
    """Reasons for review found in one cell of student code (empty when nothing stands out)."""
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return []
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRIBUTES:
            add(SUSPICIOUS_ATTRIBUTES[node.attr])
        elif isinstance(node, ast.Name) and SUSPICIOUS_NAMES.get(node.id):
            add(SUSPICIOUS_NAMES[node.id])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if SUSPICIOUS_NAMES.get(alias.name) or alias.name in SUSPICIOUS_ATTRIBUTES:
                        add(SUSPICIOUS_NAMES.get(alias.name) or SUSPICIOUS_ATTRIBUTES[alias.name])
            for name in names:
                for module, reason in SUSPICIOUS_IMPORTS.items():
                    if name == module or name.startswith(module + "."):
                        add(reason)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in LYING_DUNDERS:
            add(f"defines {node.name} on a class (objects that can fake comparisons)")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id in LYING_DUNDERS for t in item.targets):
                    add("defines a comparison dunder on a class (objects that can fake comparisons)")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in LIBRARY_ROOTS:
                    add(f"replaces a library attribute ({ast.unparse(target)})")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "setattr" and node.args and _root_name(node.args[0]) in LIBRARY_ROOTS:
                add(f"replaces a library attribute (setattr on {ast.unparse(node.args[0])})")
            if name in {"open", "Path", "listdir", "scandir", "walk", "glob", "rmtree", "remove", "unlink", "read_text", "read_bytes"}:
                for arg in node.args[:1]:
                    path = _path_constant(arg)
                    if path is not None:
                        add(f"accesses a path outside its working directory ({path})")
            if name in {"exit", "quit"} and _root_name(func) in {"sys", None}:
                add("calls exit()")
            if name in {"run_line_magic", "run_cell_magic"}:  # %time CODE, %%timeit ...: scan CODE too
                for arg in node.args[1:]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        for reason in scan_source(arg.value):
                            add(reason)
    return reasons


def scan_notebook(nb: NotebookNode, baseline: NotebookNode | None = None) -> list[str]:
    """Reasons for review in a notebook's student-editable code cells, less any the baseline
    (the lab's own template) already shows."""
    expected = set(scan_notebook(baseline)) if baseline is not None else set()
    reasons: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code" or is_locked(cell):
            continue
        for reason in scan_source(cell.source):
            if reason not in reasons and reason not in expected:
                reasons.append(reason)
    return reasons
