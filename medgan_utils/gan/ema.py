"""An exponential moving average of the generator's weights, for sampling and shipping.

GAN training does not converge to a point: the generator's weights keep circling around a
good solution as the two players chase each other, and any single snapshot shows the
artefacts of the moment. Averaging the weights over the last few thousand steps removes
much of that noise and improves FID at no training cost (Yazıcı et al., 2019, "The
Unusual Effectiveness of Averaging in GAN Training", ICLR); BigGAN, StyleGAN and most GANs
since sample from such an average. After every generator step::

    ema = decay * ema + (1 - decay) * live       (decay 0.999: a memory of ~1000 steps)

With ``warmup`` the decay at the ``t``-th update (``t = 1`` the first after the copy) is
``min(decay, (1 + t) / (10 + t))``, TensorFlow's ``ExponentialMovingAverage(num_updates)``
rule: early in training the average follows the fast-changing weights instead of
remembering the random initialisation for thousands of steps.

The generator's BatchNorm running statistics are averaged with the same decay (as
BigGAN's reference code does), so the averaged network normalises with statistics that
track its averaged weights. The averaging itself is torch's
:class:`torch.optim.swa_utils.AveragedModel`; :func:`ema_decay` is the rule above.

Example:
    >>> G = Generator(DCGANConfig(image_size=32))  # doctest: +SKIP
    >>> ema = GeneratorEMA(G, decay=0.999)          # doctest: +SKIP
    >>> ema.update(G); ema.generator                # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

__all__ = ["GeneratorEMA", "ema_decay"]

Tensors = tuple[torch.Tensor, ...] | list[torch.Tensor]  # what AveragedModel passes


def ema_decay(decay: float, n_updates: int, warmup: bool) -> float:
    """The decay of the update that follows ``n_updates`` earlier ones (after the copy).

    Args:
        decay: the target decay, in ``(0, 1)``.
        n_updates: averaging updates done so far (1 right after the initial copy).
        warmup: ramp the decay up as ``(1 + n) / (10 + n)`` until it reaches ``decay``.
    """
    return min(decay, (1 + n_updates) / (10 + n_updates)) if warmup else decay


class GeneratorEMA(nn.Module):
    """The moving average of a generator: ``generator`` is a network to sample from.

    Args:
        G: the live generator; its copy starts the average (the first :meth:`update` copies
            again, so the average starts at the weights after the first step).
        decay: weight of the old average at each update, in ``(0, 1)``.
        warmup: use :func:`ema_decay`'s ramp.

    Attributes:
        generator: the averaged :class:`~medgan_utils.gan.models.Generator` (no gradients).
        n_updates: updates so far (a buffer: checkpoints keep it, so resumes are exact).

    ``state_dict`` keys are ``averaged.n_averaged`` and ``averaged.module.<G's keys>``.
    """

    def __init__(self, G: nn.Module, decay: float, warmup: bool = False) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), got {decay!r}")
        self.decay, self.warmup = decay, warmup

        @torch.no_grad()
        def update(avg: Tensors, live: Tensors, n: torch.Tensor | int) -> None:
            if not avg[0].is_floating_point():  # BatchNorm's num_batches_tracked: a count
                torch._foreach_copy_(avg, live)
                return
            beta = ema_decay(self.decay, int(n), self.warmup)
            torch._foreach_lerp_(avg, live, 1.0 - beta)  # avg += (1 - beta) * (live - avg)

        # use_buffers: average BatchNorm's running statistics with the weights.
        self.averaged = AveragedModel(G, multi_avg_fn=update, use_buffers=True)
        self.averaged.requires_grad_(False)

    @property
    def generator(self) -> nn.Module:
        """The averaged generator (a network of the live one's class and config)."""
        return self.averaged.module

    @property
    def n_updates(self) -> int:
        return int(self.averaged.n_averaged)

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        """Move the average toward ``G``'s current weights (call after each G step)."""
        self.averaged.update_parameters(G)
