from __future__ import annotations

import importlib.util
import sys
import urllib.error

import numpy as np
import pytest
import torch

from medgan_utils.data.dataset import subject_split
from medgan_utils.data.load import load_dataset
from medgan_utils.errors import DataError
from medgan_utils.evaluation.features import (
    DOMAIN_ENCODER_DIR,
    DomainFeatures,
    InceptionFeatures,
    PixelFeatures,
    check_images,
    get_extractor,
    load_domain_encoder,
)


@pytest.fixture(scope="module")
def unseen():
    """Labelled slices of 12 virtual subjects the encoder never saw (data seed 7, not 0)."""
    return load_dataset("builtin-labelled", 64, n_subjects=12, seed=7)


def test_domain_encoder_loads_and_is_deterministic(unseen):
    ext = get_extractor("domain")
    assert isinstance(ext, DomainFeatures) and ext.dim == 128 and not ext.model.training
    x = unseen.images[:40]
    a, b = ext(x), ext(x, batch_size=7)
    assert a.shape == (40, 128) and a.dtype == torch.float64
    assert torch.allclose(a, b, atol=1e-6) and torch.equal(a, ext(x))
    small = ext(x[:, :, ::2, ::2])  # other sizes are resized to 64
    assert small.shape == (40, 128)
    assert (DOMAIN_ENCODER_DIR / "encoder.safetensors").stat().st_size < 5e6
    assert (DOMAIN_ENCODER_DIR / "MODEL_CARD.md").is_file()


def test_domain_features_know_level_and_lesion_on_unseen_subjects(unseen):
    """A real check of the shipped weights: the heads and a linear probe on the features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    model = load_domain_encoder()
    with torch.no_grad():
        out = model(unseen.images)
    level = torch.tensor([m.slice_index for m in unseen.meta], dtype=torch.float32)
    lesion = (unseen.labels == 0).numpy()
    pred = out["level"] * model.config.level_scale + model.config.level_center
    chance = (level - level.median()).abs().mean()
    assert (pred - level).abs().mean() < 0.25 * chance  # e.g. 3 mm against 20 mm
    assert roc_auc_score(lesion, out["lesion"].numpy()) > 0.8
    # the features alone separate lesion slices of held-out subjects (linear probe)
    feats = get_extractor("domain")(unseen.images).numpy()
    train, _, test = subject_split(unseen.subjects, (0.5, 0.0, 0.5), seed=0)
    probe = LogisticRegression(max_iter=2000, class_weight="balanced").fit(
        feats[train], lesion[train]
    )
    assert roc_auc_score(lesion[test], probe.decision_function(feats[test])) > 0.75


def test_missing_encoder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="encoder.json"):
        DomainFeatures(tmp_path)


def test_domain_encoder_rejects_rgb():
    with pytest.raises(ValueError, match="grey-scale"):
        get_extractor("domain")(torch.zeros(2, 3, 64, 64))


def test_pixel_features():
    ext = get_extractor("pixels")
    assert isinstance(ext, PixelFeatures) and ext.name == "pixels-16" and ext.dim == 256
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    assert ext(x).shape == (3, 256)
    assert get_extractor("pixels-32")(x).shape == (3, 1024)
    assert get_extractor(ext) is ext
    with pytest.raises(ValueError, match="unknown extractor"):
        get_extractor("vgg")


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.zeros(2, 64, 64), r"\(N, C, S, S\)"),
        (torch.zeros(0, 1, 8, 8), "empty"),
        (torch.full((2, 1, 8, 8), float("nan")), "NaN"),
        (torch.full((2, 1, 8, 8), 255.0), "x / 127.5 - 1"),
    ],
)
def test_check_images_says_what_is_wrong(images, message):
    with pytest.raises(ValueError, match=message):
        check_images(images)


def test_inception_gives_a_clear_error_offline(monkeypatch):
    if importlib.util.find_spec("torch_fidelity") is None:
        with pytest.raises(RuntimeError, match="pip install torch-fidelity"):
            get_extractor("inception")
    # with torch-fidelity installed but no internet, the weight download fails
    from torchmetrics.image import fid as tm_fid

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tm_fid, "NoTrainInceptionV3", offline)
    with pytest.raises(RuntimeError, match="could not load the Inception-v3 weights") as err:
        InceptionFeatures()
    assert "extractor='domain'" in str(err.value) and "weights_path" in str(err.value)


def test_training_script_tiny_run_is_reproducible(tmp_path, root, monkeypatch):
    path = root / "scripts" / "train_domain_encoder.py"
    spec = importlib.util.spec_from_file_location("train_domain_encoder", path)
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # dataclasses look their module up
    spec.loader.exec_module(script)
    config = script.EncoderTrainConfig(n_subjects=4, epochs=1, batch_size=32)
    script.train(config, tmp_path / "a", quiet=True)
    script.train(config, tmp_path / "b", quiet=True)
    a, b = DomainFeatures(tmp_path / "a"), DomainFeatures(tmp_path / "b")
    x = torch.rand(4, 1, 64, 64) * 2 - 1
    assert torch.equal(a(x), b(x))
    assert np.isfinite(a(x).numpy()).all()


def test_inception_wrapper_feeds_uint8_rgb(monkeypatch):
    """The torchmetrics network gets what torch-fidelity expects (checked with a stand-in)."""
    from torchmetrics.image import fid as tm_fid

    class StandIn(torch.nn.Module):
        def __init__(self, name, features_list, feature_extractor_weights_path=None):
            super().__init__()
            assert name == "inception-v3-compat" and features_list == ["2048"]

        def forward(self, x):
            assert x.dtype == torch.uint8 and x.shape[1] == 3
            return x.float().mean(dim=(1, 2, 3))[:, None].repeat(1, 2048)

    monkeypatch.setattr(tm_fid, "NoTrainInceptionV3", StandIn)
    ext = InceptionFeatures()
    feats = ext(torch.full((3, 1, 32, 32), -1.0))
    assert ext.dim == 2048 and feats.shape == (3, 2048) and float(feats.max()) == 0.0
