"""Decoding what a probe sent back, strictly: plain data or nothing.

A record comes from the student's kernel, so every byte of it is untrusted. It is accepted
only in the exact shape :mod:`autograder.in_kernel.probe_runtime` writes: JSON values, and
arrays as raw bytes with a whitelisted numeric dtype and a shape that matches their length.
Anything else (other keys, object dtypes, oversized or deeply nested data, a wrong nonce)
makes the record malformed, and a malformed record scores zero.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.in_kernel.probe_runtime import MAX_DEPTH, MIME

__all__ = ["MIME", "MalformedRecord", "ProbeRecord", "decode_record", "records_from_outputs"]

ALLOWED_DTYPES = {
    np.dtype(name).str
    for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64", "complex64", "complex128")
} | {
    np.dtype(name).newbyteorder(">").str for name in ("int16", "int32", "int64", "uint16", "uint32", "uint64", "float16", "float32", "float64", "complex64", "complex128")
}
MAX_ARRAY_BYTES = 256 * 2**20  # all arrays of one record together
MAX_NODES = 200_000
MAX_TEXT = 100_000


class MalformedRecord(ValueError):
    """Data from a kernel that is not a well-formed probe record."""


@dataclass(frozen=True)
class ProbeRecord:
    """What one probe sent back: its data, or the error the student's code raised."""

    ok: bool
    data: dict[str, Any] | None = None
    error: str = ""


def _number(value: Any) -> float:
    if value.get("$float") not in ("nan", "inf", "-inf"):
        raise MalformedRecord("a special float that is not nan or ±inf")
    return float(value["$float"])


def _decode_tree(value: Any, arrays: list[np.ndarray], depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise MalformedRecord("too many values")
    if depth > MAX_DEPTH + 1:
        raise MalformedRecord("nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > 2**128:
            raise MalformedRecord("an integer too large to be an answer")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedRecord("a non-finite float outside its marker")
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise MalformedRecord("a string too long to be an answer")
        return value
    if isinstance(value, list):
        return [_decode_tree(item, arrays, depth + 1, budget) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return _number(value)
        if set(value) == {"$array"}:
            index = value["$array"]
            if type(index) is not int or not 0 <= index < len(arrays):
                raise MalformedRecord("a reference to an array that was not sent")
            return arrays[index]
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise MalformedRecord("a key that is not a plain name")
            out[key] = _decode_tree(item, arrays, depth + 1, budget)
        return out
    raise MalformedRecord(f"a value of type {type(value).__name__}")


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "b64"}:
        raise MalformedRecord("an array entry with the wrong fields")
    dtype, shape, b64 = spec["dtype"], spec["shape"], spec["b64"]
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise MalformedRecord(f"an array of dtype {str(dtype)[:20]!r}, which is not numeric")
    if not isinstance(shape, list) or len(shape) > 32 or not all(type(n) is int and 0 <= n < 2**40 for n in shape):
        raise MalformedRecord("an array with an invalid shape")
    if not isinstance(b64, str):
        raise MalformedRecord("array bytes that are not text")
    try:
        raw = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise MalformedRecord("array bytes that are not base64") from error
    dt = np.dtype(dtype)
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise MalformedRecord("array bytes that do not match the array's shape")
    return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(shape)


def decode_record(payload: Any, nonce: str) -> ProbeRecord:
    """Check and decode one published record; raise :class:`MalformedRecord` if it is not one."""
    if not isinstance(payload, dict) or payload.get("nonce") != nonce:
        raise MalformedRecord("data that was not sent for this probe")
    if payload.get("ok") is False:
        if set(payload) != {"ok", "error", "nonce"} or not isinstance(payload["error"], str):
            raise MalformedRecord("an error record with the wrong fields")
        return ProbeRecord(False, error=payload["error"][:500])
    if payload.get("ok") is not True or set(payload) != {"ok", "data", "nonce"}:
        raise MalformedRecord("a record with the wrong fields")
    data = payload["data"]
    if not isinstance(data, dict) or set(data) != {"tree", "arrays"} or not isinstance(data["arrays"], list):
        raise MalformedRecord("a data section with the wrong fields")
    total = sum(len(spec.get("b64", "")) * 3 // 4 for spec in data["arrays"] if isinstance(spec, dict) and isinstance(spec.get("b64"), str))
    if total > MAX_ARRAY_BYTES:
        raise MalformedRecord(f"{total / 2**20:.0f} MiB of arrays, more than a probe may send")
    arrays = [_decode_array(spec) for spec in data["arrays"]]
    tree = _decode_tree(data["tree"], arrays, 0, [MAX_NODES])
    if not isinstance(tree, dict):
        raise MalformedRecord("a result that is not a dict of named values")
    return ProbeRecord(True, data=tree)


def records_from_outputs(outputs: list[dict], nonce: str) -> tuple[ProbeRecord, int]:
    """The single probe record carrying ``nonce`` among a probe cell's outputs, and how many
    other records (not sent by this probe: forged, replayed, published by a stray thread)
    appeared beside it. Malformed if none or several carry the nonce."""
    found = [
        output["data"][MIME]
        for output in outputs
        if output.get("output_type") in ("display_data", "execute_result") and MIME in output.get("data", {})
    ]
    mine = [record for record in found if isinstance(record, dict) and record.get("nonce") == nonce]
    if not mine:
        raise MalformedRecord("no data came back from the probe")
    if len(mine) > 1:
        raise MalformedRecord("more than one answer came back from the probe")
    return decode_record(mine[0], nonce), len(found) - 1
