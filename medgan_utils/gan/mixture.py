"""Mixtures of Gaussians, the toy GAN's data: exact densities, KDEs and what theory predicts.

The data of :mod:`medgan_utils.gan.toygan` have a density we know exactly, a line of ``k``
Gaussians in 1-D or a ring of ``k`` Gaussians in 2-D (the classic test of mode collapse),
so what GAN theory predicts can be checked numerically: the optimal discriminator
(:func:`optimal_discriminator`), the Jensen-Shannon divergence (:func:`js_divergence`), how
many modes a sampler covers (:meth:`Mixture.modes_covered`).

Example:
    >>> Mixture.ring(8).means.shape
    (8, 2)
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["Mixture", "gaussian_kde", "optimal_discriminator", "js_divergence"]


class Mixture:
    """An equal-weight mixture of ``k`` isotropic Gaussians ``N(mean_i, std^2 I)``.

    Build one with :meth:`line` (1-D) or :meth:`ring` (2-D). Points are arrays or tensors
    of shape ``(N, d)``; in 1-D ``(N,)`` is accepted too.

    Args:
        means: ``(k, d)`` centres of the modes.
        std: standard deviation of every mode.

    Example:
        >>> Mixture.ring(8).sample(4).shape
        torch.Size([4, 2])
    """

    def __init__(self, means: np.ndarray, std: float) -> None:
        self.means = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
        self.std = float(std)

    @classmethod
    def line(cls, modes: int, spacing: float = 2.0, std: float = 0.25) -> Mixture:
        """``modes`` Gaussians on the real line, ``spacing`` apart, centred on 0."""
        return cls((np.arange(modes) - (modes - 1) / 2) * spacing, std)

    @classmethod
    def ring(cls, modes: int, radius: float = 2.0, std: float = 0.1) -> Mixture:
        """``modes`` Gaussians evenly spaced on a circle of ``radius`` in the plane."""
        angle = 2 * np.pi * np.arange(modes) / modes
        return cls(radius * np.stack([np.cos(angle), np.sin(angle)], axis=1), std)

    @property
    def modes(self) -> int:
        return self.means.shape[0]

    @property
    def dims(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws, ``(n, d)`` float32: a uniformly chosen mode plus Gaussian noise."""
        idx = torch.randint(self.modes, (n,), generator=generator)
        noise = torch.randn(n, self.dims, generator=generator)
        return torch.as_tensor(self.means, dtype=torch.float32)[idx] + self.std * noise

    def density(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """The exact density ``p(x) = (1/k) sum_i N(x; mean_i, std^2 I)``, shape ``(N,)``."""
        return gaussian_kde(self.means, x, self.std)

    def bounds(self, margin: float = 5.0) -> tuple[float, float]:
        """A square plotting window: the means +- ``margin`` std (at least 0.5 in 1-D, 1.5 in
        2-D, room for generated points that stray from the ring)."""
        pad = max(margin * self.std, 0.5 if self.dims == 1 else 1.5)
        return float(self.means.min() - pad), float(self.means.max() + pad)

    def axis(self, n: int = 400) -> np.ndarray:
        """``(n,)`` evenly spaced coordinates across :meth:`bounds` (a grid's axis)."""
        return np.linspace(*self.bounds(), n)

    def grid(self, n: int = 400) -> np.ndarray:
        """Grid points ``(n, 1)`` in 1-D, ``(n*n, 2)`` in 2-D (row-major: y varies slowest)."""
        a = self.axis(n)
        if self.dims == 1:
            return a[:, None]
        xx, yy = np.meshgrid(a, a)
        return np.stack([xx.ravel(), yy.ravel()], axis=1)

    def distances(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """``(N, k)`` Euclidean distances from each point to each mode's mean."""
        return np.linalg.norm(_points(x, self.dims)[:, None, :] - self.means[None], axis=2)

    def nearest_mode(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """``(N,)`` index of the mode whose mean is closest to each point."""
        return self.distances(x).argmin(axis=1)

    def mode_shares(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """``(k,)``: the share of the points ``x`` within 3 std of each mode's mean."""
        return (self.distances(x) <= 3 * self.std).mean(axis=0)

    def modes_covered(self, x: np.ndarray | torch.Tensor, min_share: float | None = None) -> int:
        """How many modes hold at least ``min_share`` of the points within 3 std.

        ``min_share`` defaults to a quarter of a mode's fair share, ``0.25 / k``: a perfect
        sampler covers all ``k`` modes, a generator collapsed onto one mode covers 1.
        """
        threshold = 0.25 / self.modes if min_share is None else min_share
        return int((self.mode_shares(x) >= threshold).sum())

    def high_quality_share(self, x: np.ndarray | torch.Tensor) -> float:
        """The share of the points within 3 std of *some* mode (high-quality samples)."""
        return float((self.distances(x).min(axis=1) <= 3 * self.std).mean())


def _points(x: np.ndarray | torch.Tensor, dims: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1, dims)


def gaussian_kde(
    centres: np.ndarray | torch.Tensor, x: np.ndarray | torch.Tensor, bandwidth: float
) -> np.ndarray:
    """Mean of isotropic Gaussians of width ``bandwidth`` centred on ``centres``, at ``x``.

    With the mixture's means and std this is its exact density; with samples it is a kernel
    density estimate. Computed in chunks, so 4,000 centres on a 100x100 grid stay small.

    Args:
        centres: ``(M, d)`` (or ``(M,)`` in 1-D). x: ``(N, d)`` (or ``(N,)`` in 1-D).

    Returns:
        ``(N,)`` densities.
    """
    c_np = np.asarray(centres.detach().cpu() if isinstance(centres, torch.Tensor) else centres)
    d = 1 if c_np.ndim == 1 else c_np.shape[1]
    c = torch.as_tensor(c_np.reshape(-1, d), dtype=torch.float64)
    pts = torch.as_tensor(_points(x, d))
    norm = (2 * math.pi * bandwidth**2) ** (-d / 2) / len(c)
    out = [
        torch.exp(-torch.cdist(chunk, c).square() / (2 * bandwidth**2)).sum(1)
        for chunk in pts.split(2048)
    ]
    return (torch.cat(out) * norm).numpy()


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (1/2 where both densities vanish)."""
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 1e-300)


def js_divergence(p: np.ndarray, q: np.ndarray, cell: float) -> float:
    """Jensen-Shannon divergence (nats, in ``[0, log 2]``) of two densities on a grid.

    ``JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``; both densities
    are first normalised to integrate to 1 on the grid.

    Args:
        p, q: densities at the same grid points, any shape. cell: length (1-D) or area (2-D)
            of one grid cell.
    """
    p = p / (p.sum() * cell)
    q = q / (q.sum() * cell)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float((a[mask] * np.log(a[mask] / m[mask])).sum() * cell)

    return 0.5 * kl(p) + 0.5 * kl(q)
