"""Tests for medgan_utils.gan.blocks: upsample + conv and conditional BatchNorm in G,
minibatch std in D."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medgan_utils.gan.blocks import ConditionalBatchNorm2d, MinibatchStd, up_block
from medgan_utils.gan.models import DCGANConfig, Discriminator, Generator


@pytest.mark.parametrize("mode", ["transpose", "nearest", "bilinear"])
def test_up_block_doubles_the_side(mode: str) -> None:
    block = nn.Sequential(*up_block(6, 3, mode))
    assert block(torch.randn(2, 6, 5, 5)).shape == (2, 3, 10, 10)
    with pytest.raises(ValueError, match="upsample must be one of"):
        up_block(6, 3, "pixelshuffle")


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_generator_shapes_and_layers(size: int, mode: str) -> None:
    config = DCGANConfig(image_size=size, width=4, upsample=mode)
    G = Generator(config).eval()
    with torch.no_grad():
        images = G(torch.randn(3, 100))
    assert images.shape == (3, 1, size, size) and images.abs().max() <= 1
    # only the 1x1 -> 4x4 projection is still a transposed conv; each doubling is a resize
    kinds = [type(m) for m in G.main]
    assert kinds.count(nn.ConvTranspose2d) == 1
    assert kinds.count(nn.Upsample) == config.num_blocks
    assert all(m.mode == mode for m in G.main if isinstance(m, nn.Upsample))


def test_minibatch_std_of_the_whole_batch() -> None:
    x = torch.randn(8, 5, 4, 4)
    out = MinibatchStd(group_size=8)(x)
    assert out.shape == (8, 6, 4, 4)
    assert torch.equal(out[:, :5], x)  # the features pass through unchanged
    expected = x.std(dim=0, unbiased=False).mean()  # one number for the whole batch
    torch.testing.assert_close(out[:, 5], expected.expand(8, 4, 4))


def test_minibatch_std_groups() -> None:
    x = torch.randn(6, 3, 2, 2)
    out = MinibatchStd(group_size=2)(x)[:, 3, 0, 0]
    # groups of 2 taken with stride N/G = 3: {0, 3}, {1, 4}, {2, 5}
    for j in range(6):
        pair = x[[j % 3, j % 3 + 3]]
        torch.testing.assert_close(out[j], pair.std(dim=0, unbiased=False).mean())
    # a group size above the batch uses the whole batch
    torch.testing.assert_close(
        MinibatchStd(16)(x)[:, 3], x.std(0, unbiased=False).mean().expand(6, 2, 2)
    )


def test_minibatch_std_errors() -> None:
    with pytest.raises(ValueError, match="group size must be >= 2"):
        MinibatchStd(1)
    with pytest.raises(ValueError, match="batch of 6 is not a multiple of the group size 4"):
        MinibatchStd(4)(torch.randn(6, 2, 4, 4))


def test_discriminator_with_minibatch_std_sees_the_batch() -> None:
    """Without it, a per-sample D scores an image alone; with it, the others matter."""
    torch.manual_seed(0)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    y = x.clone()
    y[1:] = x[0]  # the other images now equal image 0: no spread across the batch
    plain = Discriminator(DCGANConfig(image_size=32, width=4, norm="layer")).eval()
    mbstd = Discriminator(DCGANConfig(image_size=32, width=4, norm="layer", minibatch_std=4))
    mbstd.eval()
    with torch.no_grad():
        assert torch.equal(plain(x)[0], plain(y)[0])
        assert not torch.equal(mbstd(x)[0], mbstd(y)[0])
        # 32 px: top channels 4w = 16, plus the std channel, at 4x4
        assert mbstd.features(x).shape == (4, (4 * 4 + 1) * 16) == (4, mbstd.feature_dim)


def test_conditional_batchnorm_starts_as_batchnorm_and_lets_the_label_set_gain_and_bias() -> None:
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(8, num_classes=3)
    x = torch.randn(6, 8, 4, 4) * 3 + 1
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    plain = nn.BatchNorm2d(8, affine=False)(x)
    # gains 1 + N(0, 0.02) and biases N(0, 0.02): each class starts near plain BatchNorm
    assert (cbn(x, labels) - plain).abs().max() < 0.2
    with torch.no_grad():
        cbn.gain.weight[1] = 1.0  # class 1: gain 2
        cbn.bias.weight[1] = 0.5
    out = cbn(x, labels)
    ones = labels == 1
    expected = plain[ones] * (2 + 0) + 0.5
    assert torch.allclose(out[ones], expected, atol=1e-5)
    assert (out[~ones] - plain[~ones]).abs().max() < 0.2  # the other classes untouched
    out.square().mean().backward()
    assert cbn.gain.weight.grad is not None and cbn.gain.weight.grad[1].abs().sum() > 0
    assert cbn.bias.weight.grad is not None and cbn.bias.weight.grad.abs().sum() > 0


def test_a_generator_with_conditional_batchnorm_puts_the_label_in_every_norm() -> None:
    config = DCGANConfig(image_size=64, width=8, num_classes=2, conditional_norm=True)
    G = Generator(config)
    norms = [m for m in G.main if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == config.num_blocks and G.embed is None  # the label is not in z
    assert not [m for m in G.main if type(m) is nn.BatchNorm2d]
    assert G.main[0].in_channels == config.latent_dim
    G.eval()
    z = torch.randn(1, 100).repeat(2, 1)
    with torch.no_grad():
        for norm in norms:
            norm.gain.weight[1] = 0.5
        images = G(z, torch.tensor([0, 1]))
    assert images.shape == (2, 1, 64, 64)
    # fresh eval-mode outputs are tiny: compare relatively (gain 1.5 against about 1)
    assert (images[0] - images[1]).abs().mean() > 0.1 * images.abs().mean()
