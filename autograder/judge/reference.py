"""The reference solution's probe data, the yardstick every submission is judged against.

For a lab and a seed, the source notebook (reference answers) runs through the same probes,
in the same kind of kernel, as every submission. Its records must all carry data and its own
judges must accept them, or the lab is broken and nobody is graded. The records are kept as
JSON (the wire format) in a file named by a digest of everything they depend on, so a
grading run computes them once and a resumed or repeated run reuses them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from autograder.in_kernel.probe_runtime import to_tree
from autograder.judge.hidden import HiddenTest
from autograder.judge.judging import judge_all
from autograder.judge.probes import RUNTIME_SOURCE
from autograder.judge.wire import ProbeRecord, decode_record

REFERENCE_NONCE = "reference"


class ReferenceBroken(RuntimeError):
    """The reference solution does not pass its own lab's judges: fix the lab before grading."""


def reference_key(template: str, source: bytes, seed: int, version: str) -> str:
    """A digest of everything the reference records depend on."""
    digest = hashlib.sha256(version.encode())
    for part in (template.encode(), source, RUNTIME_SOURCE.encode(), str(int(seed)).encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def encode_record(record: ProbeRecord) -> dict:
    """A record in the wire format (as a probe publishes it), for the reference file."""
    if not record.ok:
        return {"ok": False, "error": record.error, "nonce": REFERENCE_NONCE}
    arrays: list[dict] = []
    return {"ok": True, "data": {"tree": to_tree(record.data, arrays), "arrays": arrays}, "nonce": REFERENCE_NONCE}


def check_reference(tests: Mapping[str, HiddenTest], records: Mapping[str, ProbeRecord | str]) -> list[str]:
    """Problems that make the reference unusable: missing data, errors, or its own judges refusing it."""
    problems = []
    usable: dict[str, ProbeRecord] = {}
    for gid in tests:
        record = records.get(gid, "no data")
        if isinstance(record, str):
            problems.append(f"{gid}: the reference solution's probe sent no data ({record})")
        elif not record.ok:
            problems.append(f"{gid}: the reference solution's probe raised {record.error}")
        else:
            usable[gid] = record
    for gid, verdict in judge_all({g: tests[g] for g in usable}, usable, usable).items():
        if not verdict.passed:
            problems.append(f"{gid}: the judge refuses the reference solution's own data: {verdict.message}")
    return problems


def write_reference(path: Path, seed: int, records: Mapping[str, ProbeRecord]) -> None:
    """Save checked reference records atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"seed": int(seed), "records": {gid: encode_record(r) for gid, r in records.items()}}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".reference-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out)
    os.replace(temporary, path)


@functools.lru_cache(maxsize=8)
def load_reference(path: str) -> dict[str, ProbeRecord]:
    """Grade id -> the reference's decoded record, from a file :func:`write_reference` wrote."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    return {gid: decode_record(record, REFERENCE_NONCE) for gid, record in payload["records"].items()}
