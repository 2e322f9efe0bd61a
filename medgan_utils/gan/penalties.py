"""The R1 gradient penalty on real images (Mescheder, Geiger & Nowozin, 2018).

"Which Training Methods for GANs do actually Converge?" (ICML 2018) shows that GAN
training oscillates around its equilibrium unless the discriminator is kept from growing
steep around the real data. R1 penalises the squared norm of the discriminator's gradient
with respect to its input, on real images only::

    R1 = gamma / 2 * E_x~real [ ||grad_x D(x)||^2 ]

added to the discriminator's loss. StyleGAN2 (Karras et al., 2020, section 3.1) showed that
the penalty can be *lazy*: computed every ``k`` steps and multiplied by ``k``, it regularises
as much at about ``1/k`` of the cost. WGAN-GP's penalty (on interpolates, towards norm 1)
is :func:`medgan_utils.gan.train.gradient_penalty`; the two are not combined.

Example:
    >>> D = Discriminator(DCGANConfig(image_size=32))      # doctest: +SKIP
    >>> r1_penalty(D, torch.rand(8, 1, 32, 32) * 2 - 1)    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["r1_penalty"]


def r1_penalty(
    D: nn.Module,
    real: torch.Tensor,
    labels: torch.Tensor | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``E[||grad_x D(x)||^2]`` over real images ``x``, differentiable in D's weights.

    The gradient is taken with respect to the images as loaded, through ``augment`` when the
    discriminator sees augmented images (as StyleGAN2-ADA does). It is computed in fp32 with
    autocast off, even in a bf16 run: the penalty is a gradient of a gradient, and bf16's 8
    significant bits make both the squared norm and its own gradient too coarse (the same
    reason WGAN-GP's penalty runs in fp32 here).

    Args:
        D: the discriminator (logits ``(N,)``).
        real: ``(N, C, S, S)`` real images in ``[-1, 1]``.
        labels: ``(N,)`` for a conditional discriminator, else None.
        augment: the transforms applied before ``D`` (DiffAugment), if any.

    Returns:
        A scalar: the mean over images of the squared gradient norm (multiply by
        ``gamma / 2``, and by the lazy interval).
    """
    x = real.detach().float().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):
        scores = D(augment(x) if augment is not None else x, labels)
        (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
    return grad.square().flatten(1).sum(dim=1).mean()
