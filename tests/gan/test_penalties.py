"""Tests for medgan_utils.gan.penalties: R1 against gradients worked out by hand."""

from __future__ import annotations

import torch
from torch import nn

from medgan_utils.gan.augment import diff_augment
from medgan_utils.gan.penalties import r1_penalty


class LinearD(nn.Module):
    """``D(x) = squash(<w, x> + b)``: its input gradient is known in closed form."""

    def __init__(self, shape: tuple[int, ...], squash: bool = False) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(shape, generator=torch.Generator().manual_seed(0)))
        self.b = nn.Parameter(torch.tensor(0.3))
        self.squash = squash

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        t = (x * self.w).flatten(1).sum(1) + self.b
        return torch.tanh(t) if self.squash else t


class ConstantD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(1.5))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.c.expand(x.shape[0]) + 0 * x.sum(dim=(1, 2, 3))


REAL = torch.rand(5, 1, 4, 4) * 2 - 1


def test_zero_for_a_constant_discriminator() -> None:
    assert r1_penalty(ConstantD(), REAL).item() == 0.0


def test_linear_discriminator_gives_the_squared_weight_norm() -> None:
    D = LinearD((1, 4, 4))
    penalty = r1_penalty(D, REAL)
    expected = D.w.detach().square().sum()  # grad_x <w, x> = w for every image
    torch.testing.assert_close(penalty, expected)
    assert penalty > 0
    penalty.backward()  # the penalty trains D: d||w||^2 / dw = 2w
    torch.testing.assert_close(D.w.grad, 2 * D.w.detach())


def test_non_linear_discriminator_per_image_norms() -> None:
    D = LinearD((1, 4, 4), squash=True)
    t = (REAL * D.w.detach()).flatten(1).sum(1) + 0.3
    # grad_x tanh(t) = (1 - tanh(t)^2) w
    expected = ((1 - torch.tanh(t) ** 2) ** 2 * D.w.detach().square().sum()).mean()
    torch.testing.assert_close(r1_penalty(D, REAL), expected)


def test_fp32_under_bf16_autocast() -> None:
    D = LinearD((1, 4, 4), squash=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = r1_penalty(D, REAL.bfloat16())
    assert inside.dtype == torch.float32
    # the same as in plain fp32, up to the bf16 rounding of the images themselves
    torch.testing.assert_close(inside, r1_penalty(D, REAL.bfloat16().float()))


def test_gradient_through_the_augmentation() -> None:
    """Brightness adds a constant: a linear D's gradient w.r.t. the loaded image is still w;
    contrast scales deviations by s in [0.5, 1.5), so the gradient shrinks or grows with it."""
    D = LinearD((1, 4, 4))
    shifted = r1_penalty(D, REAL, augment=lambda x: diff_augment(x, "brightness"))
    torch.testing.assert_close(shifted, D.w.detach().square().sum())
    g = torch.Generator().manual_seed(0)
    scaled = r1_penalty(D, REAL, augment=lambda x: diff_augment(x, "contrast", g))
    s = torch.rand(5, generator=torch.Generator().manual_seed(0)) + 0.5
    w = D.w.detach()
    grads = s[:, None] * (w - w.mean()).flatten() + w.mean()  # d/dx of <w, (x - m) s + m>
    torch.testing.assert_close(scaled, grads.square().sum(1).mean())
