"""The ELPV solar-cell images as a class-folder tree for ``torchvision.datasets.ImageFolder``.

ELPV (Buerhop-Lutz et al. 2018; Deitsch et al. 2019) holds 2,624 electroluminescence (EL)
images of solar cells, 300 x 300 pixels, 8-bit grey, cut from images of 44 photovoltaic
modules. Experts marked each cell with a defect probability (0, 1/3, 2/3 or 1: functional or
defective, sure or unsure) and the module's cell type (mono- or polycrystalline). Licence:
CC BY-NC-SA 4.0 - never commit copies.

The data ships inside the PyPI release ``elpv-dataset==1.0.0.post1`` (import name
``elpv_dataset``: ``data/labels.csv`` and ``data/images/cellNNNN.png``), read where installed
or fetched and unpacked by :func:`~course_utils.data.packaged.locate`. :func:`elpv_image_folder`
sorts the cells into one folder per class in the data cache,

    <cache>/elpv/elpv-1.0.0.post1/defective/cell0001.png ...
    <cache>/elpv/elpv-1.0.0.post1/functional/cell0004.png ...

where a cell is *defective* when its defect probability is at least 0.5 (the expert judged it
defective, surely or not) and *functional* otherwise. Files are hard links to the source
images where the file system allows, else copies. An existing complete tree is only read, so
a read-only cache works once the tree is there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .cache import (
    DataUnavailable,
    RemoteFile,
    announce_once,
    cache_dir,
    file_digest,
    staged_directory,
    verify,
)
from .packaged import PackagedData, locate

ELPV_RELEASE = PackagedData(
    label="the ELPV solar-cell images",
    package="elpv_dataset",
    requirement="elpv-dataset==1.0.0.post1",
    archive=RemoteFile(
        "https://files.pythonhosted.org/packages/f3/3f/22e4483e0aa5bcc4295751e1d55112481991ca64cf97e82e88bdcb1f0afe/"
        "elpv_dataset-1.0.0.post1-py3-none-any.whl",
        "sha256:85e31c1126ee9b48e62d3a0232c58f58b2d189b0814a45c13642fa0415af4a4c",
        "elpv_dataset-1.0.0.post1-py3-none-any.whl",
    ),
    prefix="elpv_dataset",
)
LABELS_MEMBER = "data/labels.csv"
IMAGES_MEMBER = "data/images"
TREE_NAME = "elpv-1.0.0.post1"

# What the pinned release holds (checked on every build of the tree).
LABELS_SHA256 = "0abe6fe7700aea571717d7d7dfec005a47c6207b4cde26a4556b6807a115483d"
# sha256 of the lines "<file name> <sha256 of the file>\n" of all images, sorted by name.
IMAGES_SHA256 = "e9c344447bbbe075b14f492697f25276b840b27262a55157a5d43e00592d3f90"
N_CELLS = 2624
IMAGE_SIZE = (300, 300)
# (defect probability in thirds, cell type) -> number of cells
COUNTS_BY_LEVEL_AND_TYPE = {
    (0, "mono"): 588,
    (0, "poly"): 920,
    (1, "mono"): 117,
    (1, "poly"): 178,
    (2, "mono"): 56,
    (2, "poly"): 50,
    (3, "mono"): 313,
    (3, "poly"): 402,
}

DEFECT_THRESHOLD = 0.5
CLASSES = ("defective", "functional")  # ImageFolder numbers classes in sorted order: 0, 1
CLASS_COUNTS = {"defective": 821, "functional": 1803}
CELL_TYPES = ("mono", "poly")


@dataclass(frozen=True)
class ElpvCell:
    """One annotated cell image: its file name, defect probability and cell type."""

    image: str  # "cell0001.png"
    defect_probability: float  # 0, 1/3, 2/3 or 1
    cell_type: str  # "mono" or "poly"

    @property
    def level(self) -> int:
        """The defect probability in thirds: 0, 1, 2 or 3."""
        return round(self.defect_probability * 3)

    @property
    def label(self) -> str:
        """``"defective"`` when the defect probability is at least 0.5, else ``"functional"``."""
        return "defective" if self.defect_probability >= DEFECT_THRESHOLD else "functional"


def parse_elpv_labels(text: str) -> list[ElpvCell]:
    """Parse ``labels.csv``: one cell a line, ``images/cellNNNN.png <probability> <mono|poly>``."""
    cells = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(
                f"labels.csv line {number}: expected 3 fields, got {len(fields)}: {line!r}"
            )
        path, probability, cell_type = fields
        p = float(probability)
        if min(abs(p * 3 - k) for k in range(4)) > 1e-6:
            raise ValueError(
                f"labels.csv line {number}: defect probability {p} is not 0, 1/3, 2/3 or 1"
            )
        if cell_type not in CELL_TYPES:
            raise ValueError(
                f"labels.csv line {number}: cell type {cell_type!r} is not mono or poly"
            )
        cells.append(ElpvCell(Path(path).name, p, cell_type))
    return cells


def count_cells(cells: Iterable[ElpvCell]) -> dict[tuple[int, str], int]:
    """Number of cells per (defect probability in thirds, cell type)."""
    return dict(sorted(Counter((cell.level, cell.cell_type) for cell in cells).items()))


def check_elpv_cells(cells: Sequence[ElpvCell]) -> None:
    """Raise :class:`DataUnavailable` unless ``cells`` are the 2,624 cells of the pinned release."""
    counts = count_cells(cells)
    if len(cells) != N_CELLS or counts != COUNTS_BY_LEVEL_AND_TYPE:
        raise DataUnavailable(
            f"ELPV's labels hold {len(cells)} cells with counts {counts}, expected {N_CELLS} with "
            f"{COUNTS_BY_LEVEL_AND_TYPE}: reinstall {ELPV_RELEASE.install_hint}"
        )


def elpv_labels() -> list[ElpvCell]:
    """The 2,624 annotated cells of ELPV, in file order, checked against the pinned release."""
    path = locate(ELPV_RELEASE, LABELS_MEMBER)
    if not verify(path, f"sha256:{LABELS_SHA256}"):
        raise DataUnavailable(
            f"{path} does not match the pinned ELPV labels: reinstall {ELPV_RELEASE.install_hint}"
        )
    cells = parse_elpv_labels(path.read_text(encoding="utf-8"))
    check_elpv_cells(cells)
    return cells


def images_digest(images_dir: Path, names: Iterable[str]) -> str:
    """sha256 of the lines ``"<name> <sha256 of the file>"`` for ``names`` in sorted order."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(f"{name} {file_digest(images_dir / name)}\n".encode())
    return digest.hexdigest()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy
        shutil.copyfile(source, target)


def tree_is_complete(root: Path, class_counts: dict[str, int]) -> bool:
    """True when ``root`` holds exactly the folders of ``class_counts``, that many PNGs in each."""
    if not root.is_dir():
        return False
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    if folders != sorted(class_counts):
        return False
    return all(
        len(list((root / name).glob("*.png"))) == count for name, count in class_counts.items()
    )


def build_image_folder(cells: Sequence[ElpvCell], images_dir: Path, target: Path) -> Path:
    """Write one folder per class under ``target`` holding the cells' images; return ``target``.

    The tree is assembled in a temporary sibling folder and renamed into place, so a reader
    never sees half of it; if another process finished first, its tree is kept.
    """
    missing = [cell.image for cell in cells if not (images_dir / cell.image).is_file()]
    if missing:
        raise DataUnavailable(
            f"{len(missing)} ELPV images are missing from {images_dir}, e.g. {missing[0]}"
        )
    with staged_directory(target) as staging:
        for name in sorted({cell.label for cell in cells}):
            (staging / name).mkdir()
        for cell in cells:
            _link_or_copy(images_dir / cell.image, staging / cell.label / cell.image)
    return target


def elpv_image_folder(root: str | Path | None = None) -> Path:
    """Return the folder of the ELPV tree (``defective/``, ``functional/``), built on first use.

    ``root`` defaults to ``<course data cache>/elpv``. Call it with no arguments to ready the
    cache (the grader does, before sandboxed kernels see the cache read-only). Raises
    :class:`DataUnavailable` with the install command when the images cannot be found.
    """
    base = Path(root).expanduser() if root is not None else cache_dir() / "elpv"
    target = base / TREE_NAME
    if tree_is_complete(target, CLASS_COUNTS):
        announce_once("elpv", f"ELPV solar cells: the image folders in {target}.")
        return target
    cells = elpv_labels()
    images_dir = locate(ELPV_RELEASE, IMAGES_MEMBER)
    if images_digest(images_dir, (cell.image for cell in cells)) != IMAGES_SHA256:
        raise DataUnavailable(
            f"the ELPV images in {images_dir} differ from the pinned release: "
            f"reinstall {ELPV_RELEASE.install_hint}"
        )
    if target.exists():  # an incomplete tree from an interrupted run: replace it
        shutil.rmtree(target)
    build_image_folder(cells, images_dir, target)
    announce_once(
        "elpv", f"ELPV solar cells: sorted {len(cells)} images into class folders in {target}."
    )
    return target


__all__ = [
    "CLASSES",
    "CLASS_COUNTS",
    "COUNTS_BY_LEVEL_AND_TYPE",
    "ELPV_RELEASE",
    "ElpvCell",
    "build_image_folder",
    "check_elpv_cells",
    "count_cells",
    "elpv_image_folder",
    "elpv_labels",
    "parse_elpv_labels",
    "tree_is_complete",
]
