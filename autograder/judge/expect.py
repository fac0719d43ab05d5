"""Checks for judges, with messages a student may read.

A judge sees the reference's data, so its messages must never quote a reference value: these
checks say what differs and where, not what the right number is. Each raises
:class:`Refused`, an ``AssertionError`` whose message becomes the student's feedback.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Refused(AssertionError):
    """The judge refuses the answer; the message says why, in words a student can act on."""


def true(condition: Any, message: str) -> None:
    """Refuse with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Refused(message)


def array(value: Any, what: str, shape: tuple[int, ...] | None = None, kind: str | None = "f") -> np.ndarray:
    """``value`` as an array of the given shape and dtype kind ("f" floating, "i" integer, "b" bool, None any)."""
    if not isinstance(value, np.ndarray):
        raise Refused(f"{what}: expected a tensor or array, got {_kind_of(value)}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Refused(f"{what}: expected shape {tuple(shape)}, got {tuple(value.shape)}")
    if kind == "f" and value.dtype.kind != "f":
        raise Refused(f"{what}: expected floating-point values, got dtype {value.dtype}")
    if kind == "i" and value.dtype.kind not in "iu":
        raise Refused(f"{what}: expected integers, got dtype {value.dtype}")
    if kind == "b" and value.dtype.kind != "b":
        raise Refused(f"{what}: expected booleans, got dtype {value.dtype}")
    return value


def number(value: Any, what: str, finite: bool = True) -> float:
    """``value`` as a Python float (a one-element array counts), finite unless told otherwise."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiub":
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refused(f"{what}: expected a number, got {_kind_of(value)}")
    if finite and not np.isfinite(value):
        raise Refused(f"{what}: is {value}, expected a finite number")
    return float(value)


def finite(value: Any, what: str) -> None:
    """Refuse arrays or numbers holding inf or NaN."""
    if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
        raise Refused(f"{what}: contains inf or NaN")


def close(got: Any, ref: Any, what: str, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Refuse unless ``got`` matches ``ref`` elementwise within tolerances (same shape first)."""
    if isinstance(ref, np.ndarray):
        got_array = array(got, what, shape=ref.shape, kind=None)
        if got_array.dtype.kind not in "fiubc":
            raise Refused(f"{what}: expected numbers, got dtype {got_array.dtype}")
        g, r = got_array.astype(np.complex128 if "c" in (got_array.dtype.kind, ref.dtype.kind) else np.float64), ref
    else:
        g, r = number(got, what, finite=False), number(ref, what, finite=False)
    bad = ~np.isclose(g, r, rtol=rtol, atol=atol, equal_nan=True)
    if np.any(bad):
        if np.ndim(bad) == 0:
            raise Refused(f"{what}: {_show(g)} is not the expected value (relative tolerance {rtol:g})")
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise Refused(
            f"{what}: {int(bad.sum())} of {bad.size} values differ from the expected ones "
            f"(relative tolerance {rtol:g}); the first at index {first}, where you have {_show(g[first])}"
        )


def equal(got: Any, ref: Any, what: str) -> None:
    """Refuse unless ``got`` equals ``ref`` exactly (arrays: same shape and values)."""
    if isinstance(ref, np.ndarray):
        got_array = array(got, what, shape=ref.shape, kind=None)
        if not np.array_equal(got_array, ref):
            raise Refused(f"{what}: differs from the expected values")
    elif type(got) is not type(ref) or got != ref:
        raise Refused(f"{what}: {_show(got)} is not the expected answer")


def _show(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_of(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"
