"""Tests for medgan_utils.gan.augment (DiffAugment): each transform, determinism, that the
transforms do not depend on the images (so real and fake batches are treated alike), and
that gradients flow through them."""

from __future__ import annotations

import pytest
import torch

from medgan_utils.gan.augment import AUGMENTATIONS, diff_augment, parse_policy


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_brightness_and_contrast() -> None:
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    shifted = diff_augment(x, "brightness", rng())
    delta = (shifted - x).flatten(1)
    torch.testing.assert_close(delta, delta[:, :1].expand_as(delta))  # one shift per image
    assert delta.min() >= -0.5 and delta.max() < 0.5 and delta[:, 0].std() > 0.1
    scaled = diff_augment(x, "contrast", rng())
    torch.testing.assert_close(scaled.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))  # mean kept
    ratio = (scaled - scaled.mean((1, 2, 3), keepdim=True)) / (x - x.mean((1, 2, 3), True))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() < 1.5 + 1e-4


def test_translation_moves_a_pixel_within_an_eighth_of_the_side() -> None:
    x = torch.zeros(200, 1, 16, 16)
    x[:, 0, 8, 8] = 1.0
    out = diff_augment(x, "translation", rng())
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(200))  # moved, not lost
    pos = out.flatten(1).argmax(1)
    dy, dx = pos // 16 - 8, pos % 16 - 8
    assert dy.abs().max() == 2 == dx.abs().max()  # 16 / 8 = 2 pixels each way
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) == 25  # every shift occurs


def test_cutout_zeroes_a_square_of_half_the_side() -> None:
    x = torch.ones(500, 1, 16, 16)
    out = diff_augment(x, "cutout", rng())
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 8 * 8  # a full 8x8 square when it lies inside
    assert zeros.min() >= 4 * 4  # clipped by the edges, but never gone (centre inside)
    assert set(out.unique().tolist()) == {0.0, 1.0}


def test_saturation_on_colour_images() -> None:
    x = torch.rand(32, 3, 4, 4)
    out = diff_augment(x, "saturation", rng())
    torch.testing.assert_close(out.mean(dim=1), x.mean(dim=1))  # grey level kept per pixel


def test_policy_errors_name_the_option() -> None:
    with pytest.raises(ValueError, match=r"augment: unknown augmentation 'flip'"):
        parse_policy("translation, flip")
    with pytest.raises(ValueError, match="names a transform twice"):
        parse_policy("cutout,cutout")
    with pytest.raises(ValueError, match="saturation does nothing on grey-scale"):
        parse_policy("saturation", channels=1)
    assert parse_policy(" translation ,cutout,") == ("translation", "cutout")
    assert parse_policy("") == ()
    x = torch.randn(2, 1, 8, 8)
    assert diff_augment(x, "") is x


ALL = "brightness,saturation,contrast,translation,cutout"


def test_same_seed_same_transform_whatever_the_images() -> None:
    """The random draws do not look at the images: two batches augmented from one seed get
    the same transforms. With a linear policy, augmenting a sum is then the sum of the
    augmentations; real and fake batches are drawn from one distribution of transforms."""
    a, b = torch.randn(16, 3, 8, 8), torch.randn(16, 3, 8, 8)
    assert torch.equal(diff_augment(a, ALL, rng(3)), diff_augment(a, ALL, rng(3)))
    assert not torch.equal(diff_augment(a, ALL, rng(3)), diff_augment(a, ALL, rng(4)))
    linear = "translation,cutout"
    torch.testing.assert_close(
        diff_augment(a + b, linear, rng(5)),
        diff_augment(a, linear, rng(5)) + diff_augment(b, linear, rng(5)),
    )


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_each_transform_is_differentiable(name: str) -> None:
    x = torch.randn(3, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: diff_augment(t, name, rng(1)), (x,))


def test_gradient_reaches_the_input_through_the_whole_policy() -> None:
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    diff_augment(x, "translation,cutout,brightness,contrast", rng()).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # pixels that cutout zeroed or translation pushed out get no gradient; the rest do
    assert 0 < (x.grad != 0).double().mean() < 1


def test_bf16_and_channels_last_inputs() -> None:
    x = (torch.rand(4, 1, 16, 16) * 2 - 1).to(memory_format=torch.channels_last)
    out32 = diff_augment(x, ALL.replace("saturation,", ""), rng())
    out16 = diff_augment(x.bfloat16(), ALL.replace("saturation,", ""), rng())
    assert out16.dtype == torch.bfloat16 and out32.shape == x.shape
    torch.testing.assert_close(out16.float(), out32, atol=0.05, rtol=0.05)
