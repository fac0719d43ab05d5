"""Where downloaded data lives, and verified, resumable-by-retry downloads with a progress bar."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

CACHE_ENV_VAR = "COURSE_DATA"
OFFLINE_ENV_VAR = "COURSE_OFFLINE"
APP_NAME = "dl-labs"


class DataUnavailable(RuntimeError):
    """A dataset could not be found locally, in an installed package, or on the network."""


def cache_dir() -> Path:
    """Return the data cache: ``$COURSE_DATA`` if set, else the user's cache directory."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir(APP_NAME)) / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def network_allowed() -> bool:
    """Return False when ``COURSE_OFFLINE`` forbids downloads (tests and offline machines)."""
    return os.environ.get(OFFLINE_ENV_VAR, "").strip().lower() not in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class RemoteFile:
    """A file on the web with its checksum (``algorithm:hexdigest``, e.g. ``sha256:ab12...``)."""

    url: str
    checksum: str
    filename: str


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Return the hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, checksum: str) -> bool:
    """Return True if ``path`` matches ``checksum`` (``algorithm:hexdigest``)."""
    algorithm, _, expected = checksum.partition(":")
    return file_digest(path, algorithm) == expected.lower()


def download(remote: RemoteFile, directory: Path | None = None, progress: bool = True) -> Path:
    """Return a verified local copy of ``remote``, downloading it (with a progress bar) if needed.

    The file is written to a ``.part`` file and renamed only once its checksum matches, so
    an interrupted or corrupted download never leaves a bad file in the cache.
    """
    directory = directory or cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / remote.filename
    if target.exists():
        if verify(target, remote.checksum):
            return target
        target.unlink()  # stale or corrupt: fetch again
    if not network_allowed():
        raise DataUnavailable(
            f"{remote.filename} is not in the cache ({directory}) and downloads are disabled "
            f"({OFFLINE_ENV_VAR} is set)."
        )
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(remote.url, timeout=30) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=remote.filename, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        raise DataUnavailable(f"could not download {remote.url}: {error}") from error
    if not verify(partial, remote.checksum):
        partial.unlink(missing_ok=True)
        raise DataUnavailable(
            f"{remote.url} downloaded but its checksum does not match {remote.checksum}: "
            "the file may have changed upstream or the download was corrupted; try again."
        )
    shutil.move(partial, target)
    return target


def package_data_dir(package: str) -> Path | None:
    """Return the installed directory of ``package`` without importing it, or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target`` to fill, then rename it to ``target``.

    A reader never sees a half-written folder. If another process put ``target`` in place
    first, its copy is kept; on an error nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield staging
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_announced: set[str] = set()


def announce_once(key: str, message: str) -> None:
    """Print ``message`` the first time ``key`` is seen in this process."""
    if key not in _announced:
        _announced.add(key)
        print(message)
