"""Differentiable augmentation of real and generated images (DiffAugment, Zhao et al., 2020).

With a few thousand training images the discriminator memorises them, its scores stop
meaning anything for new images, and the generator's samples degrade. DiffAugment
("Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020) applies the
same random transforms to every image the discriminator sees, real and generated, in both
the discriminator and the generator steps. Because the transforms are differentiable, the
generator's gradient flows back through them; and because real and fake images go through
the same distribution of transforms, the generator is not pushed to produce augmented-looking
images (augmenting the reals alone would teach it to).

The transforms follow the reference implementation (github.com/mit-han-lab/data-efficient-gans,
``DiffAugment_pytorch.py``) on images in ``[-1, 1]``, one random draw per image:

* ``translation``: shift by up to 1/8 of the side in each direction, zero-padded;
* ``cutout``: zero a square of half the side at a random centre;
* ``brightness``: add a uniform value in ``[-0.5, 0.5)``;
* ``contrast``: scale the deviation from the image mean by a uniform ``[0.5, 1.5)``;
* ``saturation``: scale each pixel's deviation from its channel mean by ``[0, 2)`` (colour
  images only: on one channel it does nothing, so it is refused there).

The reference's ``color`` policy is brightness + saturation + contrast; for grey-scale MRI
use ``brightness,contrast``. Written here (about 40 lines) rather than imported: the
reference is a file in a research repository, not a package, and kornia's augmentations do
not draw from a caller's ``torch.Generator``, which seeded, resumable runs need.

Example:
    >>> x = torch.rand(8, 1, 32, 32) * 2 - 1
    >>> diff_augment(x, "translation,cutout", torch.Generator().manual_seed(0)).shape
    torch.Size([8, 1, 32, 32])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["AUGMENTATIONS", "parse_policy", "diff_augment"]

Transform = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def _uniform(x: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
    """One value in ``[0, 1)`` per image ``(N, 1, 1, 1)``, drawn on the CPU from ``rng``."""
    u = torch.rand(x.shape[0], 1, 1, 1, generator=rng)
    return u.to(device=x.device, dtype=x.dtype)


def brightness(x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """``x + u - 0.5``, ``u ~ U[0, 1)`` per image."""
    return x + (_uniform(x, rng) - 0.5)


def saturation(x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """``(x - mean over channels) * 2u + mean over channels``, per image."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, rng) * 2) + mean


def contrast(x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """``(x - image mean) * (u + 0.5) + image mean``, per image."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, rng) + 0.5) + mean


def translation(
    x: torch.Tensor, rng: torch.Generator | None = None, ratio: float = 0.125
) -> torch.Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its side; zeros fill the gap."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=rng).to(x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=rng).to(x.device)
    # Output pixel (i, j) reads padded pixel (i + dy + 1, j + dx + 1), clamped into the
    # zero border: the reference's indexing, which back-propagates to the pixels it reads.
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (N, H + 2, W + 2, C)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2)  # (N, C, H, W)


def cutout(x: torch.Tensor, rng: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a ``ratio``-of-the-side square per image, centred anywhere (clipped at the edges)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=rng).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=rng).to(x.device)
    top, left = cy - ch // 2, cx - cw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # (N, H, W)
    return x * (~inside)[:, None].to(x.dtype)


AUGMENTATIONS: dict[str, Transform] = {
    "translation": translation,
    "cutout": cutout,
    "brightness": brightness,
    "contrast": contrast,
    "saturation": saturation,
}


def parse_policy(policy: str, channels: int | None = None) -> tuple[str, ...]:
    """The transform names of a comma-separated policy (``""``: none), in order.

    Args:
        policy: e.g. ``"translation,cutout,brightness,contrast"``.
        channels: image channels, if known: ``saturation`` is refused for 1 channel.

    Raises:
        ValueError: an unknown or repeated name, or saturation on grey-scale images; the
            message names the ``augment`` option and the valid names.
    """
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(
                f"augment: unknown augmentation {name!r}; choose from {sorted(AUGMENTATIONS)}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"augment: {policy!r} names a transform twice")
    if channels == 1 and "saturation" in names:
        raise ValueError(
            "augment: saturation does nothing on grey-scale (1-channel) images; "
            "use brightness,contrast"
        )
    return names


def diff_augment(
    x: torch.Tensor, policy: str | tuple[str, ...], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the policy's transforms in order, with fresh random draws per image.

    Args:
        x: ``(N, C, H, W)`` images in ``[-1, 1]`` (any float dtype, any device).
        policy: names (see :data:`AUGMENTATIONS`), comma-separated or as a tuple.
        generator: a CPU ``torch.Generator`` the random draws come from (seeded runs repeat
            exactly); ``None``: torch's global generator.

    Returns:
        ``(N, C, H, W)``, differentiable with respect to ``x``; ``x`` itself for ``""``.
    """
    names = parse_policy(policy) if isinstance(policy, str) else policy
    for name in names:
        x = AUGMENTATIONS[name](x, generator)
    return x
