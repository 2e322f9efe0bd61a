"""Building blocks the DCGAN can swap in: upsample + conv and conditional BatchNorm in G,
minibatch std in D.

Both are options of :class:`~medgan_utils.gan.models.DCGANConfig`; the defaults build the
plain DCGAN of Radford et al. (2015).

* :func:`up_block` with ``mode="nearest"`` or ``"bilinear"`` doubles the side by resizing and
  then applies a 3x3 conv, instead of a strided 4x4 transposed conv. A transposed conv whose
  kernel size is not divisible by its stride paints some output pixels with more kernel taps
  than their neighbours, which shows as a checkerboard texture; resize-then-conv gives every
  output pixel the same number of taps (Odena, Dumoulin & Olah, 2016, "Deconvolution and
  Checkerboard Artifacts", Distill).
* :class:`MinibatchStd` appends one feature map holding the average standard deviation of the
  features across a group of samples, so the discriminator can see when a batch of fakes is
  too alike: a cheap guard against mode collapse (Karras et al., 2018, "Progressive Growing
  of GANs", section 3; groups of 4 as in StyleGAN2, Karras et al., 2020).
* :class:`ConditionalBatchNorm2d` lets a class label set the gain and bias of a generator's
  BatchNorm, so the label acts at every resolution instead of only through the input noise
  (de Vries et al., 2017, "Modulating early visual processing by language"; the generator
  of SNGAN-projection, Miyato & Koyama, 2018, and of BigGAN, Brock et al., 2019).

Example:
    >>> nn.Sequential(*up_block(64, 32, "nearest"))(torch.zeros(2, 64, 8, 8)).shape
    torch.Size([2, 32, 16, 16])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UPSAMPLE_MODES", "up_block", "MinibatchStd", "ConditionalBatchNorm2d"]

UPSAMPLE_MODES = ("transpose", "nearest", "bilinear")


def up_block(c_in: int, c_out: int, mode: str) -> list[nn.Module]:
    """Layers that map ``(N, c_in, s, s)`` to ``(N, c_out, 2s, 2s)``, without norm or activation.

    Args:
        c_in, c_out: channels in and out.
        mode: "transpose" (the DCGAN's ``ConvTranspose2d(c_in, c_out, 4, 2, 1)``), or
            "nearest" / "bilinear" (``Upsample(2, mode)`` then ``Conv2d(c_in, c_out, 3, 1, 1)``).

    Returns:
        The layers, to splice into an ``nn.Sequential``; no biases (a norm or tanh follows).
    """
    if mode == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {mode!r}")
    return [nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]


class MinibatchStd(nn.Module):
    """Append the features' standard deviation across a group of samples as one more channel.

    The batch is cut into groups of ``min(group_size, N)`` samples, taken with a stride of
    ``N / group`` as StyleGAN2 does (sample ``j`` is in group ``j mod (N / group)``). For each
    group the population std over its samples is taken at every ``(channel, y, x)``, averaged
    into one number, and written as a constant ``(H, W)`` map for every sample of the group.
    With ``group_size >= N`` this is the std of the whole batch (Progressive GAN).

    Args:
        group_size: samples per group (2 or more); ``N`` must be a multiple of
            ``min(group_size, N)``.

    Shapes:
        ``(N, C, H, W)`` -> ``(N, C + 1, H, W)``. The std is computed in fp32 under autocast.

    Example:
        >>> MinibatchStd(4)(torch.randn(8, 16, 4, 4)).shape
        torch.Size([8, 17, 4, 4])
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        if group_size < 2:
            raise ValueError(f"minibatch_std group size must be >= 2, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(
                f"minibatch_std={self.group_size}: the batch of {n} is not a multiple of the "
                f"group size {g}; use a batch size divisible by it"
            )
        y = x.float().reshape(g, n // g, c, h, w)  # (G, N/G, C, H, W): y[i, m] is sample i*N/G+m
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (N/G, C, H, W)
        std = std.mean(dim=(1, 2, 3))  # (N/G,): one number per group
        std = std.repeat(g)[:, None, None, None].expand(n, 1, h, w)  # sample j gets group j mod N/G
        return torch.cat([x, std.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose per-channel gain and bias are looked up from the class label.

    ``y = BN(x) * (1 + gain[label]) + bias[label]``, with ``BN`` a ``BatchNorm2d`` without
    affine parameters of its own and ``gain``, ``bias`` two ``nn.Embedding(num_classes, C)``.
    Written as ``1 + gain`` (BigGAN's form) so that the N(0, 0.02) start every embedding gets
    from :func:`~medgan_utils.gan.models.weights_init` is a gain near 1 and a bias near 0:
    at the start each class is plain BatchNorm, and training pulls the classes apart.

    Args:
        num_features: channels ``C``.
        num_classes: number of labels.

    Shapes:
        ``x``: ``(N, C, H, W)``, ``labels``: ``(N,)`` integers in ``[0, num_classes)`` ->
        ``(N, C, H, W)``.

    Example:
        >>> cbn = ConditionalBatchNorm2d(8, num_classes=2)
        >>> cbn(torch.randn(4, 8, 2, 2), torch.tensor([0, 1, 0, 1])).shape
        torch.Size([4, 8, 2, 2])
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.normal_(self.gain.weight, 0.0, 0.02)
        nn.init.normal_(self.bias.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(labels).to(x.dtype)[:, :, None, None]  # (N, C, 1, 1)
        bias = self.bias(labels).to(x.dtype)[:, :, None, None]
        return self.bn(x) * gain + bias
