"""Tests for medgan_utils.gan.models: shapes, init, conditioning, config, parity with
pytorch/examples' DCGAN, FLOP counting, bf16 autocast and channels_last."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest
import torch
from torch import nn

from medgan_utils.gan.models import (
    DCGANConfig,
    Discriminator,
    Generator,
    build_gan,
    count_parameters,
    layer_macs,
    training_flops_per_image,
    weights_init,
)

VARIANTS = {  # discriminator variants: config overrides
    "batch": {},
    "sn": {"spectral_norm": True},
    "layer": {"norm": "layer"},
    "instance": {"norm": "instance"},
    "none": {"norm": "none"},
}


def _labels(config: DCGANConfig, n: int) -> torch.Tensor | None:
    return torch.arange(n) % config.num_classes if config.conditional else None


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("num_classes", [0, 3])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes(size: int, channels: int, num_classes: int, variant: str) -> None:
    config = DCGANConfig(
        image_size=size, channels=channels, num_classes=num_classes, width=8, **VARIANTS[variant]
    )
    G, D = (m.eval() for m in build_gan(config))
    y = _labels(config, 2)
    with torch.no_grad():
        images = G(torch.randn(2, 100), y)
        assert images.shape == (2, channels, size, size)
        assert images.abs().max() <= 1.0
        assert G(torch.randn(2, 100, 1, 1), y).shape == images.shape
        assert D(images, y).shape == (2,)
        top = 8 * 2 ** (config.num_blocks - 1)
        assert D.features(images).shape == (2, top * 16) == (2, D.feature_dim)


def test_discriminator_norm_layers() -> None:
    def kinds(**kw: object) -> set[type]:
        return {type(m) for m in Discriminator(DCGANConfig(width=8, **kw)).main}

    assert nn.BatchNorm2d in kinds()
    assert nn.GroupNorm in kinds(norm="layer")
    assert nn.InstanceNorm2d in kinds(norm="instance")
    for kw in ({"norm": "none"}, {"spectral_norm": True}):
        assert not any(issubclass(k, nn.modules.batchnorm._NormBase) for k in kinds(**kw))
        assert nn.GroupNorm not in kinds(**kw)
    D = Discriminator(DCGANConfig(width=8, spectral_norm=True, num_classes=2))
    convs = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Embedding))]
    assert len(convs) == 6 and all(hasattr(m, "parametrizations") for m in convs)


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_non_batch_critic_is_per_sample(norm: str) -> None:
    """WGAN-GP's penalty needs D(x_i) to depend on x_i only, even in train mode."""
    D = Discriminator(DCGANConfig(image_size=32, width=8, norm=norm)).train()
    x = torch.randn(4, 1, 32, 32)
    alone = D(x[:1])
    x[1:] = torch.randn(3, 1, 32, 32)
    torch.testing.assert_close(D(x)[:1], alone)


def test_init_statistics() -> None:
    G, D = build_gan()
    for w in (G.main[0].weight, G.main[3].weight, D.main[5].weight, D.main[8].weight):
        assert abs(w.mean().item()) < 2e-3 and 0.019 < w.std().item() < 0.021
    for bn in (G.main[1], D.main[3], D.main[9]):
        assert abs(bn.weight.mean().item() - 1) < 0.01 and 0.01 < bn.weight.std().item() < 0.03
        assert torch.all(bn.bias == 0)
    D = Discriminator(DCGANConfig(width=16, spectral_norm=True))  # biases: no norm follows
    raw = D.main[2].parametrizations.weight.original
    assert 0.017 < raw.std().item() < 0.023 and torch.all(D.main[2].bias == 0)
    lin = nn.Linear(200, 300)
    weights_init(lin)
    assert 0.019 < lin.weight.std().item() < 0.021 and torch.all(lin.bias == 0)


def test_label_embeddings_start_small() -> None:
    """N(0, 0.02) as BigGAN-PyTorch's init (PyTorch's N(0, 1) collapsed our conditional runs)."""
    torch.manual_seed(0)
    G, D = build_gan(DCGANConfig(image_size=32, width=8, num_classes=2, embed_dim=500))
    for embed in (G.embed, D.embed):
        assert 0.018 < embed.weight.std().item() < 0.022


def test_conditional_models_use_the_label() -> None:
    torch.manual_seed(0)
    G, D = (m.eval() for m in build_gan(DCGANConfig(image_size=32, width=16, num_classes=4)))
    z = torch.randn(1, 100).repeat(4, 1)
    y = torch.arange(4)
    with torch.no_grad():
        images = G(z, y)
        # the label embedding starts at N(0, 0.02): a small but real change (relative)
        assert (images[0] - images[1]).abs().max() > 5e-3 * images.abs().max()
        x = images[:1].repeat(4, 1, 1, 1)
        scores = D(x, y)
    # Fresh eval-mode scores are tiny (~1e-6), so compare relative to their size.
    assert (scores[0] - scores[1:]).abs().min() > 1e-2 * scores.abs().max()
    D(x, y).sum().backward()
    assert D.embed.weight.grad is not None and D.embed.weight.grad.abs().sum() > 0


def test_label_errors() -> None:
    G, D = build_gan(DCGANConfig(image_size=32, width=8))
    z, x = torch.randn(2, 100), torch.randn(2, 1, 32, 32)
    with pytest.raises(ValueError, match="unconditional"):
        G(z, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="unconditional"):
        D(x, torch.zeros(2, dtype=torch.long))
    G, D = build_gan(DCGANConfig(image_size=32, width=8, num_classes=3))
    with pytest.raises(ValueError, match="pass labels"):
        G(z)
    with pytest.raises(ValueError, match="pass labels"):
        D(x)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        G(z, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        G(z, torch.zeros(2))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        D(x, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        G(z, torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"z must have shape \(N, 100\)"):
        G(torch.randn(2, 64))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 32, 32\)"):
        D(torch.randn(2, 1, 64, 64), torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 48}, r"image_size must be one of \(32, 64, 128\), got 48"),
        ({"channels": 0}, "channels must be an integer >= 1, got 0"),
        ({"latent_dim": 2.5}, "latent_dim must be an integer"),
        ({"width": True}, "width must be an integer"),
        ({"num_classes": -1}, "num_classes must be an integer >= 0, got -1"),
        ({"embed_dim": 0}, "embed_dim must be an integer >= 1"),
        ({"norm": "group"}, "norm must be one of .*got 'group'"),
        ({"spectral_norm": 1}, "spectral_norm must be True or False"),
        ({"upsample": "deconv"}, "upsample must be one of .*got 'deconv'"),
        ({"minibatch_std": 1}, "minibatch_std must be 0 .*got 1"),
        ({"minibatch_std": True}, "minibatch_std must be 0"),
        ({"conditional_norm": 1, "num_classes": 2}, "conditional_norm must be True or False"),
        ({"conditional_norm": True}, "conditional_norm needs a conditional model"),
    ],
)
def test_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DCGANConfig(**kwargs)


def test_config_round_trip() -> None:
    config = DCGANConfig(
        image_size=128, channels=3, num_classes=5, spectral_norm=True, norm="layer", width=32
    )
    assert DCGANConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert DCGANConfig.from_dict({"image_size": 32}) == DCGANConfig(image_size=32)
    with pytest.raises(ValueError, match=r"unknown DCGANConfig keys \['ngf'\]"):
        DCGANConfig.from_dict({**config.to_dict(), "ngf": 64})
    with pytest.raises(FrozenInstanceError):
        config.width = 8  # type: ignore[misc]
    assert config.discriminator_norm == "layer"
    assert DCGANConfig(spectral_norm=True).discriminator_norm == "none"


class _ReferenceG(nn.Module):
    """pytorch/examples dcgan/main.py Generator with nc=1, nz=100, ngf=64."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False),
            nn.BatchNorm2d(512),
            nn.ReLU(True),
            nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class _ReferenceD(nn.Module):
    """pytorch/examples dcgan/main.py Discriminator with nc=1, ndf=64."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False),
            nn.BatchNorm2d(512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(512, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


def test_parity_with_pytorch_examples() -> None:
    G, D = build_gan(DCGANConfig())
    ref_g, ref_d = _ReferenceG(), _ReferenceD()
    assert count_parameters(G) == count_parameters(ref_g) == 3_574_656
    assert count_parameters(D) == count_parameters(ref_d) == 2_763_520
    # Same state_dict keys: the example's checkpoints load strictly, and compute the same.
    G.load_state_dict(ref_g.apply(weights_init).state_dict(), strict=True)
    D.load_state_dict(ref_d.apply(weights_init).state_dict(), strict=True)
    G.eval(), D.eval(), ref_g.eval(), ref_d.eval()
    z = torch.randn(3, 100)
    with torch.no_grad():
        images = G(z)
        torch.testing.assert_close(images, ref_g(z[:, :, None, None]))
        torch.testing.assert_close(torch.sigmoid(D(images)), ref_d(images))


def test_flop_count() -> None:
    G = Generator(DCGANConfig())
    macs = layer_macs(G, torch.zeros(2, 100))
    assert macs["main.0"] == 100 * 512 * 4 * 4  # each z entry scattered through a 4x4 kernel
    assert macs["main.12"] == 64 * 32 * 32 * 1 * 4 * 4
    D = Discriminator(DCGANConfig())
    dmacs = layer_macs(D, torch.zeros(1, 1, 64, 64))
    assert dmacs["main.0"] == 64 * 32 * 32 * 1 * 4 * 4  # out pixels x in channels x kernel
    assert dmacs["main.11"] == 512 * 4 * 4
    expected = 3 * 2 * sum(macs.values()) + 9 * 2 * sum(dmacs.values())
    assert training_flops_per_image(DCGANConfig()) == expected
    flops = [training_flops_per_image(DCGANConfig(image_size=s)) for s in (32, 64, 128)]
    assert flops[0] < flops[1] < flops[2]
    conditional = training_flops_per_image(DCGANConfig(num_classes=4))
    assert conditional == expected + 3 * 2 * 50 * 512 * 16  # wider first layer of G only


@pytest.mark.parametrize("num_classes", [0, 3])
def test_bf16_autocast_channels_last(num_classes: int) -> None:
    config = DCGANConfig(
        image_size=64,
        channels=3,
        width=16,
        num_classes=num_classes,
        norm="layer" if num_classes else "batch",
    )
    G, D = (m.to(memory_format=torch.channels_last) for m in build_gan(config))
    y = _labels(config, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        images = G(torch.randn(4, 100), y)
        scores = D(images.contiguous(memory_format=torch.channels_last), y)
        features = D.features(images)
    scores.float().sum().backward()  # gradients flow through the whole chain
    assert images.shape == (4, 3, 64, 64) and scores.shape == (4,)
    assert features.shape == (4, 16 * 8 * 16)
    for t in (images, scores, features):
        assert torch.isfinite(t.float()).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())


RECIPE = {"spectral_norm": True, "upsample": "nearest", "minibatch_std": 4}


def test_new_options_round_trip_and_old_files_load() -> None:
    config = DCGANConfig(image_size=32, width=8, upsample="bilinear", minibatch_std=4)
    assert DCGANConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.to_dict()["upsample"] == "bilinear" and config.to_dict()["minibatch_std"] == 4
    # a plain DCGAN's file is what it was before the options existed (shipped checksums hold)
    assert not {"upsample", "minibatch_std", "conditional_norm"} & set(DCGANConfig().to_dict())
    cbn = DCGANConfig(image_size=32, width=8, num_classes=2, conditional_norm=True)
    assert DCGANConfig.from_dict(json.loads(json.dumps(cbn.to_dict()))) == cbn
    # a model_config written before these options existed: the plain DCGAN, same weights
    old = {k: v for k, v in DCGANConfig().to_dict().items() if k not in RECIPE}
    assert DCGANConfig.from_dict(old) == DCGANConfig()
    assert list(Generator(DCGANConfig.from_dict(old)).state_dict()) == list(
        Generator(DCGANConfig()).state_dict()
    )


@pytest.mark.parametrize(
    ("upsample", "conditional_norm"), [("transpose", False), ("nearest", False), ("nearest", True)]
)
def test_conditional_generator_follows_its_label_with_the_recipe(
    upsample: str, conditional_norm: bool
) -> None:
    torch.manual_seed(0)
    config = DCGANConfig(
        image_size=32,
        width=8,
        num_classes=2,
        conditional_norm=conditional_norm,
        **{**RECIPE, "upsample": upsample},
    )
    G, D = (m.eval() for m in build_gan(config))
    z = torch.randn(1, 100).repeat(4, 1)
    with torch.no_grad():
        images = G(z, torch.tensor([0, 1, 0, 1]))
        assert torch.equal(images[0], images[2])  # same noise and label: same image
        # another label: another image (fresh eval-mode outputs are tiny and the label
        # embedding starts at N(0, 0.02): compare relatively)
        assert (images[0] - images[1]).abs().max() > 5e-3 * images.abs().max()
        assert D(images, torch.tensor([0, 1, 0, 1])).shape == (4,)


def test_recipe_networks_under_bf16_autocast() -> None:
    config = DCGANConfig(image_size=32, width=8, **RECIPE)
    G, D = (m.to(memory_format=torch.channels_last) for m in build_gan(config))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = D(G(torch.randn(8, 100)))
    scores.float().sum().backward()
    assert scores.shape == (8,) and torch.isfinite(scores.float()).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())


def test_flops_of_the_upsample_generator() -> None:
    """Resize + 3x3 conv costs ``9 / 4`` of a 4x4 stride-2 transposed conv per doubling."""
    g_t = layer_macs(Generator(DCGANConfig()), torch.zeros(1, 100))
    g_n = layer_macs(Generator(DCGANConfig(upsample="nearest")), torch.zeros(1, 100))
    assert g_n["main.0"] == g_t["main.0"]  # the 1x1 -> 4x4 projection is unchanged
    assert g_n["main.4"] == 256 * 8 * 8 * 512 * 9  # out pixels x in channels x 3x3
    assert g_t["main.3"] * 9 == g_n["main.4"] * 4
