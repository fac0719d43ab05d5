"""Runs a hidden test's probe inside the student's kernel and publishes what it returned.

The grader sends this file's source with every probe (the kernel cannot import the
autograder), executed in a private namespace so that nothing leaks into the student's. A
probe is the ``probe(seed)`` function of a test cell's hidden block; it returns a dict of
plain values, encoded here as JSON with arrays as base64 raw bytes plus dtype and shape: a
format that cannot carry code. Standard library only, plus NumPy and torch when the
notebook has them.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

MIME = "application/x-course-probe+json"
MAX_DEPTH = 16


def _array_of(value: Any) -> Any:
    """``value`` as a NumPy array if it is a tensor or an array (or NumPy scalar), else None."""
    numpy = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        if tensor.is_complex() or tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
            return tensor.resolve_conj().numpy() if tensor.is_complex() else tensor.numpy()
        return tensor.numpy()
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        return numpy.asarray(value)
    return None


def to_tree(value: Any, arrays: list[dict], depth: int = 0) -> Any:
    """Turn a probe's result into JSON-safe data; arrays go to ``arrays`` as raw bytes."""
    if depth > MAX_DEPTH:
        raise ValueError("the probe's result is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"$float": repr(float(value))}
        return float(value)
    array = _array_of(value)
    if array is not None:
        import numpy

        array = array if array.flags.c_contiguous else array.copy(order="C")
        arrays.append({"dtype": array.dtype.str, "shape": list(array.shape), "b64": base64.b64encode(array.tobytes()).decode("ascii")})
        return {"$array": len(arrays) - 1}
    if isinstance(value, (list, tuple)):
        return [to_tree(item, arrays, depth + 1) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise ValueError(f"the probe's result has a key that is not a plain name: {key!r}")
            out[key] = to_tree(item, arrays, depth + 1)
        return out
    raise TypeError(f"the answer is a {type(value).__name__}, which is not a number, string, array or tensor")


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


def run_probe(block_source: str, seed: int, namespace: dict) -> dict:
    """Run the hidden block's ``probe(seed)`` over a copy of ``namespace``; return the record."""
    scope = dict(namespace)  # the student's names, but nothing the block defines leaks back
    scope["__name__"] = "__course_probe__"
    try:
        exec(compile(block_source, "<hidden test probe>", "exec"), scope)  # noqa: S102 - the grader's own code
        result = scope["probe"](seed)
        if not isinstance(result, dict):
            raise TypeError("the probe must return a dict of plain values")
        arrays: list[dict] = []
        tree = to_tree(result, arrays)
    except BaseException as error:  # noqa: BLE001 - any failure (exit and interrupts too) is an answer of zero
        return {"ok": False, "error": _describe(error)}
    return {"ok": True, "data": {"tree": tree, "arrays": arrays}}


def _main(nonce: str, block_source: str, seed: int) -> None:
    from IPython import get_ipython
    from IPython.display import publish_display_data

    record = run_probe(block_source, seed, get_ipython().user_ns)
    record["nonce"] = nonce
    publish_display_data({MIME: record})


if __name__ == "__course_probe_runtime__":
    _main(*__course_call__)  # type: ignore[name-defined]  # noqa: F821 - set by the grader's launch code
