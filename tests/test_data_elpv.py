"""Tests for course_utils.data.elpv: the labels, the image-folder tree, the real copy."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from fake_releases import fake_entry, pinned_to, write_wheel
from PIL import Image
from torchvision.datasets import ImageFolder

from course_utils.data import cache as cache_module
from course_utils.data import elpv as elpv_module
from course_utils.data.cache import DataUnavailable, RemoteFile
from course_utils.data.elpv import ElpvCell, build_image_folder, parse_elpv_labels, tree_is_complete
from course_utils.data.packaged import PackagedData, installed_root

HAVE_ELPV = installed_root(elpv_module.ELPV_RELEASE) is not None
needs_elpv = pytest.mark.skipif(
    not HAVE_ELPV, reason='ELPV not installed: pip install "elpv-dataset==1.0.0.post1"'
)

# A small labels file in the release's format: path, probability, type, padded with spaces.
LABELS = """images/cell0001.png  1.0                 mono
images/cell0002.png  0.0                 poly
images/cell0003.png  0.3333333333333333  mono
images/cell0004.png  0.6666666666666666  poly
images/cell0005.png  0.0                 mono
"""
FIXTURE_COUNTS = {(0, "mono"): 1, (0, "poly"): 1, (1, "mono"): 1, (2, "poly"): 1, (3, "mono"): 1}
FIXTURE_CLASSES = {"defective": 2, "functional": 3}


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 12), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES = {f"cell000{i}.png": _png(i) for i in range(1, 6)}


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty cache, downloads off, and messages shown again."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_ARCHIVES", str(tmp_path / "archives"))
    monkeypatch.setattr(cache_module, "_announced", set())
    return tmp_path


@pytest.fixture
def fake_release(fresh, monkeypatch):
    """A small wheel laid out like elpv-dataset's, in the archives folder, pinned instead of it."""
    files = {"fakeelpv/data/labels.csv": LABELS}
    files.update({f"fakeelpv/data/images/{name}": payload for name, payload in IMAGES.items()})
    wheel = write_wheel(fresh / "archives" / "fakeelpv-1.0-py3-none-any.whl", files)
    release = pinned_to(fake_entry("fakeelpv", "fakeelpv==1.0"), wheel)
    images_digest = hashlib.sha256(
        "".join(f"{n} {hashlib.sha256(IMAGES[n]).hexdigest()}\n" for n in sorted(IMAGES)).encode()
    ).hexdigest()
    monkeypatch.setattr(elpv_module, "ELPV_RELEASE", release)
    monkeypatch.setattr(elpv_module, "LABELS_SHA256", hashlib.sha256(LABELS.encode()).hexdigest())
    monkeypatch.setattr(elpv_module, "IMAGES_SHA256", images_digest)
    monkeypatch.setattr(elpv_module, "N_CELLS", 5)
    monkeypatch.setattr(elpv_module, "COUNTS_BY_LEVEL_AND_TYPE", FIXTURE_COUNTS)
    monkeypatch.setattr(elpv_module, "CLASS_COUNTS", FIXTURE_CLASSES)
    return wheel


# ------------------------------------------------------------------------------- labels


def test_parse_labels_reads_names_probabilities_and_types():
    cells = parse_elpv_labels(LABELS)
    assert [c.image for c in cells] == list(IMAGES)
    assert [c.level for c in cells] == [3, 0, 1, 2, 0]
    assert [c.label for c in cells] == [
        "defective",
        "functional",
        "functional",
        "defective",
        "functional",
    ]
    assert cells[2].cell_type == "mono" and cells[3].defect_probability == pytest.approx(2 / 3)
    assert elpv_module.count_cells(cells) == FIXTURE_COUNTS


@pytest.mark.parametrize(
    "line, problem",
    [
        ("images/cell0001.png 0.5 mono", "not 0, 1/3, 2/3 or 1"),
        ("images/cell0001.png 1.0 thin", "not mono or poly"),
        ("images/cell0001.png 1.0", "expected 3 fields"),
    ],
)
def test_parse_labels_rejects_malformed_lines(line, problem):
    with pytest.raises(ValueError, match=problem):
        parse_elpv_labels(LABELS + line + "\n")


def test_check_cells_rejects_a_different_release():
    cells = parse_elpv_labels(LABELS)
    with pytest.raises(DataUnavailable, match="expected 2624"):
        elpv_module.check_elpv_cells(cells)


def test_the_threshold_puts_unsure_verdicts_with_the_expert():
    assert ElpvCell("a.png", 1 / 3, "mono").label == "functional"
    assert ElpvCell("a.png", 2 / 3, "poly").label == "defective"


# -------------------------------------------------------------------------- the tree


def test_build_image_folder_makes_a_tree_image_folder_reads(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name, payload in IMAGES.items():
        (images / name).write_bytes(payload)
    root = build_image_folder(parse_elpv_labels(LABELS), images, tmp_path / "tree")
    dataset = ImageFolder(root)
    assert dataset.classes == ["defective", "functional"]
    assert sorted(Path(p).name for p, t in dataset.samples if t == 0) == [
        "cell0001.png",
        "cell0004.png",
    ]
    image, _ = dataset[0]
    assert image.mode == "RGB" and image.size == (12, 12)
    assert (root / "functional" / "cell0002.png").read_bytes() == IMAGES["cell0002.png"]
    assert tree_is_complete(root, FIXTURE_CLASSES)
    assert not list(tmp_path.glob(".tree.*")), "the staging folder was left behind"


def test_build_copies_when_links_are_refused(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for name, payload in IMAGES.items():
        (images / name).write_bytes(payload)

    def no_links(*args, **kwargs):
        raise OSError("cross-device link")

    monkeypatch.setattr(elpv_module.os, "link", no_links)
    root = build_image_folder(parse_elpv_labels(LABELS), images, tmp_path / "tree")
    copied = root / "defective" / "cell0004.png"
    assert copied.read_bytes() == IMAGES["cell0004.png"] and copied.stat().st_nlink == 1


def test_build_names_missing_images(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataUnavailable, match="5 ELPV images are missing"):
        build_image_folder(parse_elpv_labels(LABELS), tmp_path / "images", tmp_path / "tree")


def test_incomplete_trees_are_not_complete(tmp_path):
    (tmp_path / "tree" / "defective").mkdir(parents=True)
    assert not tree_is_complete(tmp_path / "tree", FIXTURE_CLASSES)
    assert not tree_is_complete(tmp_path / "absent", FIXTURE_CLASSES)


# --------------------------------------------------------------- the loader, on the fixture


def test_the_loader_unpacks_the_release_and_builds_the_tree_once(fake_release, monkeypatch, capsys):
    root = elpv_module.elpv_image_folder()
    assert root.parent == Path(cache_module.cache_dir()) / "elpv"
    assert tree_is_complete(root, FIXTURE_CLASSES)
    assert "sorted 5 images" in capsys.readouterr().out

    # a populated cache is only read: nothing is written (the grading sandbox mounts it read-only)
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(elpv_module, "staged_directory", refuse)
    monkeypatch.setattr(elpv_module.os, "link", refuse)
    monkeypatch.setattr(elpv_module.shutil, "copyfile", refuse)
    monkeypatch.setattr(elpv_module.shutil, "rmtree", refuse)
    fake_release.unlink()  # nor is the release needed again
    assert elpv_module.elpv_image_folder() == root


def test_an_interrupted_tree_is_rebuilt(fake_release):
    root = elpv_module.elpv_image_folder()
    (root / "functional" / "cell0002.png").unlink()
    assert elpv_module.elpv_image_folder() == root
    assert tree_is_complete(root, FIXTURE_CLASSES)


def test_changed_images_are_refused(fake_release, monkeypatch):
    monkeypatch.setattr(elpv_module, "IMAGES_SHA256", "0" * 64)
    with pytest.raises(DataUnavailable, match="differ from the pinned release"):
        elpv_module.elpv_image_folder()


def test_without_any_copy_it_says_what_to_install(fresh, monkeypatch):
    missing = PackagedData(
        "the fake ELPV images",
        "fakeelpv_not_installed",
        "fakeelpv==1.0",
        RemoteFile(
            "https://invalid.example/x.whl", "sha256:" + "0" * 64, "fakeelpv-1.0-py3-none-any.whl"
        ),
        "fakeelpv",
    )
    monkeypatch.setattr(elpv_module, "ELPV_RELEASE", missing)
    with pytest.raises(DataUnavailable, match='pip install --no-deps "fakeelpv==1.0"'):
        elpv_module.elpv_image_folder()


# ------------------------------------------------------------------------ the real copy


@needs_elpv
def test_real_labels_match_the_pinned_counts():
    cells = elpv_module.elpv_labels()
    assert len(cells) == 2624
    assert elpv_module.count_cells(cells) == elpv_module.COUNTS_BY_LEVEL_AND_TYPE
    by_class = {name: sum(c.label == name for c in cells) for name in elpv_module.CLASSES}
    assert by_class == {"defective": 821, "functional": 1803}
    assert sum(c.cell_type == "mono" for c in cells) == 1074
    assert cells[0] == ElpvCell("cell0001.png", 1.0, "mono")


@needs_elpv
def test_real_tree_reads_as_an_image_folder(fresh):
    root = elpv_module.elpv_image_folder()
    dataset = ImageFolder(root)
    assert len(dataset) == 2624 and dataset.class_to_idx == {"defective": 0, "functional": 1}
    assert np.bincount(dataset.targets).tolist() == [821, 1803]
    path, label = dataset.samples[0]
    assert Path(path).name == "cell0001.png" and label == 0
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == elpv_module.IMAGE_SIZE
    source = installed_root(elpv_module.ELPV_RELEASE) / "data" / "images" / "cell0001.png"
    assert Path(path).read_bytes() == source.read_bytes()
