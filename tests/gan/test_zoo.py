from __future__ import annotations

import json

import pytest
import torch

from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import (
    MAX_IMAGES,
    generate,
    interpolate,
    latent_noise,
    load_generator,
    save_generator,
    slerp,
)

CONFIG = DCGANConfig(image_size=32, width=8, latent_dim=16)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    G = Generator(CONFIG)
    save_generator(G, CONFIG, tmp_path / "model", {"note": "test"})
    return tmp_path / "model", G


def test_save_and_load_round_trip(saved):
    folder, G = saved
    loaded, meta = load_generator(folder)
    assert meta["note"] == "test" and DCGANConfig.from_dict(meta["model_config"]) == CONFIG
    assert not loaded.training
    z = torch.randn(4, 16)
    G.eval()
    assert torch.equal(loaded(z), G(z))
    assert load_generator(folder / "generator.safetensors")[1] == meta


def test_generate_is_seeded_and_independent_of_batching(saved):
    G = load_generator(saved[0])[0]
    a = generate(G, 10, seed=3)
    assert a.shape == (10, 1, 32, 32) and a.abs().max() <= 1
    assert torch.equal(a, generate(G, 10, seed=3))  # same call, same bits
    # the noise of image i does not depend on n or the batch size (kernels may round differently)
    assert torch.allclose(a, generate(G, 10, seed=3, batch_size=3), atol=1e-6)
    assert torch.allclose(a[:4], generate(G, 4, seed=3), atol=1e-6)
    for n in (1, 5, 13, 17, 33):  # including counts whose noise is not a multiple of 16 values
        assert torch.equal(latent_noise(n, 16, seed=3), latent_noise(40, 16, seed=3)[:n])
    assert not torch.equal(a, generate(G, 10, seed=4))


@pytest.mark.parametrize("n", [0, -1, MAX_IMAGES + 1, 2.5])
def test_generate_rejects_bad_counts(saved, n):
    with pytest.raises(ValueError, match="between 1 and"):
        generate(load_generator(saved[0])[0], n)


def test_load_errors_name_the_file(saved, tmp_path):
    folder = saved[0]
    with pytest.raises(DataError, match="not a model"):
        load_generator("no-such-model")
    weights = folder / "generator.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="generator.safetensors: corrupt"):
        load_generator(folder)
    weights.write_bytes(good)
    meta = json.loads((folder / "generator.json").read_text())
    meta["model_config"]["width"] = 16
    (folder / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="do not match the config"):
        load_generator(folder)
    (folder / "generator.json").write_text("{not json")
    with pytest.raises(DataError, match="generator.json: unreadable model config"):
        load_generator(folder)


def test_generate_start_stop_are_the_rows_of_the_whole_request(saved):
    G = load_generator(saved[0])[0]
    whole = generate(G, 37, seed=5, batch_size=16)
    for a, b in [(0, 16), (16, 32), (32, 37)]:  # the app's chunks: the same batches, same bits
        assert torch.equal(generate(G, 37, seed=5, batch_size=16, start=a, stop=b), whole[a:b])
    assert torch.allclose(generate(G, 37, seed=5, start=10, stop=20), whole[10:20], atol=1e-6)
    with pytest.raises(ValueError, match="no images 30..40"):
        generate(G, 37, seed=5, start=30, stop=40)
    # truncation: the noise of latent_noise(n, seed, truncation), rows start..stop-1
    z = latent_noise(37, 16, seed=5, truncation=0.7)
    G.eval()
    with torch.no_grad():
        expected = G(z[8:24])
    assert torch.equal(
        generate(G, 37, 5, batch_size=16, start=8, stop=24, truncation=0.7), expected
    )


def test_generate_labels_follow_the_request(tmp_path):
    cfg = DCGANConfig(image_size=32, width=8, latent_dim=16, num_classes=2)
    torch.manual_seed(0)
    G = load_generator(save_generator(Generator(cfg), cfg, tmp_path / "cond"))[0]
    labels = torch.tensor([0, 1] * 5)
    whole = generate(G, 10, seed=1, labels=labels, batch_size=4)
    assert torch.equal(generate(G, 10, 1, labels, 4, start=4, stop=8), whole[4:8])
    assert not torch.equal(generate(G, 10, 1, 1, 4, start=4, stop=8), whole[4:8])  # one class
    with pytest.raises(ValueError, match="needs labels"):
        generate(G, 10, seed=1)


def test_interpolate_ends_at_the_seeds_images(saved):
    G = load_generator(saved[0])[0]
    path = interpolate(G, 1, 2, steps=5)
    assert path.shape == (5, 1, 32, 32)
    assert torch.allclose(path[0], generate(G, 1, seed=1)[0], atol=1e-5)
    assert torch.allclose(path[-1], generate(G, 1, seed=2)[0], atol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(G, 1, 2, steps=1)


def test_slerp_keeps_the_norm_of_gaussian_noise():
    a, b = torch.randn(2, 100, generator=torch.Generator().manual_seed(0))
    path = slerp(a, b, torch.linspace(0, 1, 11))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    middle = (a + b) / 2  # the straight line's midpoint is much shorter
    assert path[5].norm() > 0.9 * min(a.norm(), b.norm()) > middle.norm()


def test_the_shipped_model_loads_and_generates_brains():
    from medgan_utils.gan.zoo import DEFAULT_MODEL, list_models, model_path

    assert DEFAULT_MODEL in list_models()
    folder = model_path(DEFAULT_MODEL)
    assert (folder / "generator.safetensors").stat().st_size < 20e6
    assert (folder / "MODEL_CARD.md").exists()
    G, meta = load_generator(DEFAULT_MODEL)
    assert meta["model_config"]["image_size"] == 64 and meta["data"] == "builtin"
    x = generate(G, 64, seed=0)
    assert x.shape == (64, 1, 64, 64)
    # brain-like: dark background corners, a bright centre, and not 64 copies of one image
    assert x[:, 0, :6, :6].mean() < -0.8 and x[:, 0, 24:40, 24:40].mean() > -0.2
    assert x.std(0).mean() > 0.1


def test_the_shipped_conditional_model_follows_its_label():
    from medgan_utils.evaluation.features import DOMAIN_ENCODER, load_encoder
    from medgan_utils.gan.zoo import CONDITIONAL_MODEL, list_models, model_path

    assert CONDITIONAL_MODEL in list_models()
    folder = model_path(CONDITIONAL_MODEL)
    assert (folder / "generator.safetensors").stat().st_size < 20e6
    assert (folder / "MODEL_CARD.md").exists() and (folder / "evaluation.json").exists()
    G, meta = load_generator(CONDITIONAL_MODEL)
    assert G.config.num_classes == 2 and meta["classes"] == ["lesion", "no_lesion"]
    assert meta["data"] == "builtin-labelled" and meta["data_options"]["seed"] == 1
    lesion, healthy = (generate(G, 64, seed=0, labels=label) for label in (0, 1))
    assert lesion.shape == healthy.shape == (64, 1, 64, 64)
    assert lesion[:, 0, :6, :6].mean() < -0.8 and lesion.std(0).mean() > 0.1  # varied brains
    assert (lesion - healthy).abs().mean() > 0.03  # the same noise: only the label differs
    # the domain encoder's lesion head (trained on real slices) sees the label in the images:
    # it calls most lesion-label samples lesion and few no-lesion ones (real: 87 % and 1 %)
    head = load_encoder(DOMAIN_ENCODER)
    with torch.no_grad():
        called = [(head(x)["lesion"] > 0).float().mean().item() for x in (lesion, healthy)]
    assert called[0] > 0.6 and called[1] < 0.2
