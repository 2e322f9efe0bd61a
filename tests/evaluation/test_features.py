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
    ANATOMY_ENCODER_DIR,
    DOMAIN_ENCODER_DIR,
    AnatomyFeatures,
    DomainFeatures,
    InceptionFeatures,
    PixelFeatures,
    check_images,
    get_extractor,
    load_anatomy_encoder,
    load_domain_encoder,
)
from medgan_utils.evaluation.metrics import frechet_distance


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


# --------------------------------------------------------------------------- anatomy encoder


def _blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, 1, S, S)`` (7 taps, replicate padding)."""
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    x = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7)
    )
    return torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1)
    )


def _noise(x: torch.Tensor, sigma: float = 0.08) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def test_anatomy_encoder_loads_has_no_artefact_head_and_is_deterministic(unseen):
    ext = get_extractor("anatomy")
    assert isinstance(ext, AnatomyFeatures) and ext.name == ext.label == "anatomy"
    assert ext.dim == 128 and not ext.model.training
    assert ext.model.corruption is None and ext.model.config.n_corruptions == 0
    assert "corruption" not in ext.model(unseen.images[:2])
    x = unseen.images[:40]
    a = ext(x)
    assert a.shape == (40, 128) and a.dtype == torch.float64
    assert torch.allclose(a, ext(x, batch_size=7), atol=1e-6)
    # another space than the domain encoder's, from other weights
    assert not torch.allclose(a, get_extractor("domain")(x))
    assert load_anatomy_encoder() is ext.model  # cached per folder
    assert (ANATOMY_ENCODER_DIR / "encoder.safetensors").stat().st_size < 20e6
    assert (ANATOMY_ENCODER_DIR / "MODEL_CARD.md").is_file()
    with pytest.raises(ValueError, match="anatomy encoder reads grey-scale"):
        ext(torch.zeros(2, 3, 64, 64))
    with pytest.raises(DataError, match="encoder.json"):
        AnatomyFeatures(DOMAIN_ENCODER_DIR.parent / "no-such-folder")


def test_anatomy_heads_know_level_and_lesion_on_unseen_subjects(unseen):
    from sklearn.metrics import roc_auc_score

    model = load_anatomy_encoder()
    with torch.no_grad():
        out = model(unseen.images)
    level = torch.tensor([m.slice_index for m in unseen.meta], dtype=torch.float32)
    pred = out["level"] * model.config.level_scale + model.config.level_center
    assert (pred - level).abs().mean() < 0.25 * (level - level.median()).abs().mean()
    assert roc_auc_score((unseen.labels == 0).numpy(), out["lesion"].numpy()) > 0.8


def test_anatomy_floor_is_below_a_blurred_or_noised_real_set(real):
    """Two subject-disjoint halves of real slices are close in the anatomy space; the same
    half plainly blurred or noised is far, though the encoder never saw either artefact.
    Mild noise, which the domain encoder was trained to spot, leaves most slices inside the
    real manifold here and none there."""
    from medgan_utils.evaluation.metrics import precision_recall

    ext = get_extractor("anatomy")
    train, _, test = subject_split(real.subjects, (0.5, 0.0, 0.5), seed=0)
    a, b = real.images[train], real.images[test]
    fa = ext(a)
    floor = frechet_distance(fa, ext(b))
    blurred = frechet_distance(fa, ext(_blur(b, 1.0)))
    noised = frechet_distance(fa, ext(_noise(b, 0.2)))
    assert floor < blurred / 3 and floor < noised / 3, (floor, blurred, noised)
    mild = _noise(b, 0.08)
    domain = get_extractor("domain")
    in_anatomy = precision_recall(fa, ext(mild), 3)[0]
    in_domain = precision_recall(domain(a), domain(mild), 3)[0]
    assert in_anatomy > 0.5 > 0.1 > in_domain, (in_anatomy, in_domain)


def _load_script(root, monkeypatch, name):
    monkeypatch.syspath_prepend(str(root / "scripts"))  # scripts import their siblings
    spec = importlib.util.spec_from_file_location(name, root / "scripts" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # dataclasses look their module up
    spec.loader.exec_module(script)
    return script


def test_anatomy_training_script_tiny_runs(tmp_path, root, monkeypatch):
    script = _load_script(root, monkeypatch, "train_anatomy_encoder")
    config = script.AnatomyTrainConfig(n_subjects=4, epochs=1, batch_size=32)
    script.train(config, tmp_path / "a", quiet=True)
    script.train(config, tmp_path / "b", quiet=True)
    a, b = AnatomyFeatures(tmp_path / "a"), AnatomyFeatures(tmp_path / "b")
    x = torch.rand(4, 1, 64, 64) * 2 - 1
    assert torch.equal(a(x), b(x)) and a.model.corruption is None
    contrastive = script.AnatomyTrainConfig(method="contrastive", n_subjects=4, epochs=1)
    info = script.train(contrastive, tmp_path / "c", quiet=True)
    assert "--method contrastive --epochs 1" in info["command"] and not info["artefact_head"]
    assert np.isfinite(AnatomyFeatures(tmp_path / "c")(x).numpy()).all()
    with pytest.raises(ValueError, match="method must be one of"):
        script.train(script.AnatomyTrainConfig(method="byol"), tmp_path / "d")


def test_nt_xent_is_the_simclr_loss(root, monkeypatch):
    script = _load_script(root, monkeypatch, "train_anatomy_encoder")
    z = torch.eye(4)  # four orthogonal images; each view's partner is its copy
    # each row: partner similarity 1/t against 6 others at 0 -> log(1 + 6 exp(-1/t))
    expected = float(np.log(1 + 6 * np.exp(-1 / 0.5)))
    assert float(script.nt_xent(z, z, 0.5)) == pytest.approx(expected, rel=1e-6)
    assert float(script.nt_xent(z, z.roll(1, 0), 0.5)) > expected + 1  # wrong partners
