import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from course_utils.data.cache import DataUnavailable, RemoteFile, cache_dir, download, package_data_dir, verify

PAYLOAD = b"course data " * 1000


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server serving one file (the test never leaves this machine)."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "data.bin").write_bytes(PAYLOAD)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _remote(base, checksum=None):
    return RemoteFile(f"{base}/data.bin", checksum or "sha256:" + hashlib.sha256(PAYLOAD).hexdigest(), "data.bin")


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and cache_dir().is_dir()


def test_download_verifies_and_caches(server, tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    path = download(_remote(server), tmp_path / "cache", progress=False)
    assert path.read_bytes() == PAYLOAD and verify(path, _remote(server).checksum)
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # a cached, verified file needs no network
    assert download(_remote(server), tmp_path / "cache", progress=False) == path


def test_a_bad_checksum_leaves_nothing_behind(server, tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    with pytest.raises(DataUnavailable, match="checksum does not match"):
        download(_remote(server, "sha256:" + "0" * 64), tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_corrupt_cached_file_is_fetched_again(server, tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "data.bin").write_bytes(b"truncated")
    assert download(_remote(server), tmp_path / "cache", progress=False).read_bytes() == PAYLOAD


def test_unreachable_and_offline_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(DataUnavailable, match="downloads are disabled"):
        download(_remote("http://127.0.0.1:9"), tmp_path, progress=False)
    monkeypatch.delenv("COURSE_OFFLINE")
    with pytest.raises(DataUnavailable, match="could not download"):
        download(_remote("http://127.0.0.1:9"), tmp_path, progress=False)
    assert not list(Path(tmp_path).glob("*.part"))


def test_package_data_dir_finds_without_importing():
    assert package_data_dir("nbformat").name == "nbformat"
    assert package_data_dir("no_such_package_here") is None


def test_a_staged_directory_appears_whole_or_not_at_all(tmp_path):
    from course_utils.data.cache import staged_directory

    target = tmp_path / "tree"
    with pytest.raises(RuntimeError):
        with staged_directory(target) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with staged_directory(target) as staging:
        (staging / "whole.txt").write_text("whole")
    assert (target / "whole.txt").read_text() == "whole"
    with staged_directory(target) as staging:  # another process finished first: its copy stays
        (staging / "late.txt").write_text("late")
    assert sorted(p.name for p in target.iterdir()) == ["whole.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["tree"]
