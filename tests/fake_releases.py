"""Small stand-ins for the PyPI releases that carry course data, for the loaders' tests.

A test writes a wheel (zip) of the real release's layout into the archives folder and points
the loader's :class:`PackagedData` entry at it: the same code path an offline machine takes,
on a few bytes instead of megabytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

from course_utils.data.cache import RemoteFile
from course_utils.data.packaged import PackagedData


def write_wheel(path: Path, files: dict[str, bytes | str | Path]) -> Path:
    """Write a zip at ``path`` holding ``files`` (member name -> bytes, text or a file to copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as handle:
        for name, payload in files.items():
            if isinstance(payload, Path):
                handle.write(payload, name)
            else:
                handle.writestr(name, payload)
    return path


def pinned_to(entry: PackagedData, archive: Path, package: str | None = None) -> PackagedData:
    """``entry`` pinned to the local release file ``archive`` (its URL and sha256), not installed."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return dataclasses.replace(
        entry,
        package=package or f"{entry.package}_not_installed_here",
        archive=RemoteFile(archive.as_uri(), f"sha256:{digest}", archive.name),
    )


def fake_entry(prefix: str, requirement: str) -> PackagedData:
    """A release entry for a package that does not exist (its archive is set by :func:`pinned_to`)."""
    return PackagedData(f"the fake {prefix}", prefix, requirement, RemoteFile("", "sha256:", ""), prefix)
