"""Public checks for students: each failure says what was expected and hints at why.

A failing check raises :class:`CheckFailed`, an ``AssertionError`` that Jupyter shows as
one short message instead of a traceback. The same functions are safe to use in hidden
tests, where the message becomes the feedback a student reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # torch.Tensor, np.ndarray, numbers and nested sequences of numbers


class CheckFailed(AssertionError):
    """A public check that did not pass; rendered in notebooks as its message alone."""

    def _render_traceback_(self) -> list[str]:
        """Show only the hint in IPython/Jupyter, not a stack trace."""
        return [f"\u274c {self}"]


def _fail(message: str) -> None:
    raise CheckFailed(message)


def passed(what: str) -> None:
    """Print a short success line for the student."""
    print(f"\u2705 {what}")


def _shape_of(value: ArrayLike) -> tuple[int, ...]:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    return tuple(np.shape(value))


# Results of these types are plain values: a notebook-defined subclass of one can only be an
# attempt to change how it compares. (Subclassing nn.Module or Dataset is, of course, fine.)
_VALUE_TYPES = (int, float, complex, str, bytes, tuple, list, dict, torch.Tensor, np.ndarray, np.generic)


def check_type(value: Any, expected: type | tuple[type, ...], name: str = "value") -> None:
    """Fail with a hint unless ``value`` is an instance of ``expected``.

    An object of a class defined in the notebook itself (or one that disguises its class)
    does not count as a library type such as a tensor or a float, so a result that merely
    pretends to be a number or always compares equal is turned away.
    """
    wanted = expected if isinstance(expected, tuple) else (expected,)
    actual = type(value)
    names = " or ".join(t.__name__ for t in wanted)
    if getattr(value, "__class__", actual) is not actual:
        _fail(f"{name}: expected {names}, got an object that disguises its class ({actual.__name__})")
    if all(issubclass(t, _VALUE_TYPES) for t in wanted) and actual.__module__ == "__main__":
        _fail(f"{name}: expected a plain {names}, got an object of the notebook's own class {actual.__name__}")
    if not isinstance(value, expected):
        names = (
            " or ".join(t.__name__ for t in expected)
            if isinstance(expected, tuple)
            else expected.__name__
        )
        hint = ""
        if isinstance(value, np.ndarray) and expected is torch.Tensor:
            hint = " - use torch.from_numpy(...) or torch.tensor(...) to convert"
        elif isinstance(value, torch.Tensor) and expected is float:
            hint = " - use .item() to turn a one-element tensor into a float"
        elif value is None:
            hint = " - did the function forget to return its result?"
        _fail(f"{name}: expected {names}, got {type(value).__name__}{hint}")


def check_shape(value: ArrayLike, expected: Sequence[int], name: str = "value") -> None:
    """Fail with a hint unless ``value`` has shape ``expected`` (``-1`` matches any size)."""
    got = _shape_of(value)
    want = tuple(expected)
    if len(got) == len(want) and all(w in (-1, g) for g, w in zip(got, want)):
        return
    hint = ""
    if len(got) == len(want) == 2 and got == want[::-1]:
        hint = " - transposed?"
    elif len(got) == len(want) + 1 and 1 in got:
        hint = " - an extra dimension of size 1: squeeze it or check your indexing"
    elif len(got) + 1 == len(want) and 1 in want:
        hint = " - missing a dimension of size 1: unsqueeze, or keepdim=True in a reduction"
    elif int(np.prod(got)) == int(np.prod([abs(w) for w in want])):
        hint = " - the right number of elements: check a reshape/view"
    _fail(f"{name}: expected shape {want}, got {got}{hint}")


def check_dtype(value: torch.Tensor | np.ndarray, expected: Any, name: str = "value") -> None:
    """Fail with a hint unless the tensor/array ``value`` has dtype ``expected``."""
    got = value.dtype
    if got == expected:
        return
    hint = ""
    if isinstance(value, torch.Tensor) and value.dtype == torch.float64 and expected == torch.float32:
        hint = " - tensors made from NumPy arrays are float64; use .float()"
    elif isinstance(value, torch.Tensor) and not value.is_floating_point():
        hint = " - integer tensors cannot hold fractions or gradients; use .float()"
    _fail(f"{name}: expected dtype {expected}, got {got}{hint}")


def _as_numpy(value: ArrayLike) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def check_close(
    actual: ArrayLike,
    expected: ArrayLike,
    name: str = "value",
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> None:
    """Fail with the first differing index and the largest error unless values are close."""
    a = _as_numpy(actual).astype(np.float64, copy=False)
    e = _as_numpy(expected).astype(np.float64, copy=False)
    if a.shape != e.shape:
        check_shape(a, e.shape, name)
    if np.isnan(a).any() and not np.isnan(e).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(a))[0])
        _fail(f"{name}: NaN at index {where} - a division by zero, log of 0, or diverging updates?")
    close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return
    bad = np.argwhere(~close)
    first = tuple(int(i) for i in bad[0]) if a.ndim else ()
    err = np.abs(a - e)
    where = f" at index {first}" if first else ""
    _fail(
        f"{name}: values differ{where}: got {a[first]:.6g}, expected {e[first]:.6g} "
        f"({len(bad)} of {a.size} entries differ; largest absolute error {np.nanmax(err):.3g}, "
        f"tolerance rtol={rtol:g}, atol={atol:g})"
    )


def numerical_gradient(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Central-difference gradient of a scalar function ``f`` at ``x`` (computed in float64)."""
    x = x.detach().to(torch.float64).clone()
    grad = torch.zeros_like(x)
    flat_x, flat_g = x.view(-1), grad.view(-1)
    for i in range(flat_x.numel()):
        old = flat_x[i].item()
        flat_x[i] = old + eps
        plus = float(f(x))
        flat_x[i] = old - eps
        minus = float(f(x))
        flat_x[i] = old
        flat_g[i] = (plus - minus) / (2 * eps)
    return grad


def check_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    grad: torch.Tensor | None = None,
    name: str = "gradient",
    eps: float = 1e-6,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """Compare ``grad`` (default: autograd's) of scalar ``f`` at ``x`` with central differences."""
    if grad is None:
        xg = x.detach().to(torch.float64).clone().requires_grad_(True)
        out = f(xg)
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            _fail(f"{name}: f must return a scalar tensor, got {type(out).__name__}")
        (grad,) = torch.autograd.grad(out, xg)
    check_shape(grad, tuple(x.shape), name)
    check_close(grad, numerical_gradient(f, x, eps), name, rtol=rtol, atol=atol)
