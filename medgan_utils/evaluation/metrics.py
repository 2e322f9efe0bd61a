"""How good, how diverse and how original are generated images? The scores, written out.

- :func:`frechet_distance` (FID) and :func:`kernel_distance` (KID, unbiased, mean and
  standard deviation over subsets) compare feature distributions;
- :func:`precision_recall` (Kynkaanniemi et al., 2019): the share of generated images
  inside the real k-NN manifold (fidelity) and of real images inside the generated one
  (coverage);
- :func:`diversity`: mean MS-SSIM of random pairs within a set (high = alike, collapse);
- :class:`Score`: one metric beside its *floor*, the same metric between two disjoint real
  subsets of the same size.

All of them are finite-sample estimates, so
:func:`~medgan_utils.evaluation.evaluate.evaluate` reports every score beside its floor: a
model is reported as "domain FID 23.1 (real-vs-real floor 4.2, n=768)", never alone. The
near-copy check is :func:`~medgan_utils.evaluation.memorization.memorization`.

Features come from :mod:`medgan_utils.evaluation.features`; FID on the project's
``"domain"`` and ``"anatomy"`` features (the defaults) is *domain* or *anatomy FID*, not
comparable with the Inception-FID numbers in papers.

Example:
    >>> round(frechet_distance(np.eye(3), np.eye(3)), 6)
    0.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from medgan_utils.evaluation.features import check_images
from medgan_utils.evaluation.memorization import _pairwise

__all__ = [
    "Score",
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_distance",
    "precision_recall",
    "diversity",
]


def _fmt(v: float) -> str:
    """23.1, 4.2, 0.0123: one decimal from 1 up, three significant digits below."""
    return f"{v:.1f}" if abs(v) >= 1 else f"{v:.3g}"


@dataclass(frozen=True)
class Score:
    """One metric, with the same metric between two disjoint real subsets beside it.

    Attributes:
        name: e.g. ``"domain FID"``, ``"precision"``.
        value: the metric between the real reference subset and the generated set.
        floor: the same metric between that real subset and a disjoint real subset of the
            same size: what a perfect generator would score at this ``n``.
        n: images per set.
        extractor: feature space (``"domain"``, ``"inception"``, ``"pixels-16"``, ...).
        std, floor_std: spread over subsets (KID) or ``None``.
        higher_is_better: ``True`` for precision and recall.
        floor_label: how ``__str__`` names the floor (default "real-vs-real floor").
    """

    name: str
    value: float
    floor: float
    n: int
    extractor: str
    std: float | None = None
    floor_std: float | None = None
    higher_is_better: bool = False
    floor_label: str = ""

    def __str__(self) -> str:
        pm = lambda s: f" ± {_fmt(s)}" if s is not None else ""  # noqa: E731
        ref = self.floor_label or (
            "real-vs-real" if self.higher_is_better else "real-vs-real floor"
        )
        return (
            f"{self.name} {_fmt(self.value)}{pm(self.std)} "
            f"({ref} {_fmt(self.floor)}{pm(self.floor_std)}, n={self.n})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- statistics


def _as_array(feats: torch.Tensor | np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(feats.detach().cpu() if isinstance(feats, torch.Tensor) else feats, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{what} must be (N, D) features with N >= 2, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or inf; check the images that produced them")
    return x


def frechet_distance_from_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """``|mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^½)`` for two Gaussians ``(D,)``, ``(D, D)``.

    Hand-written (numpy) because torchmetrics keeps its version private and tied to its
    Inception network; we need it for any features and for the floors. The trace of
    ``(S1 S2)^½`` is taken as ``tr((S1^½ S2 S1^½)^½)``: a symmetric matrix, so ``eigh`` gives
    real eigenvalues, where ``scipy.linalg.sqrtm(S1 @ S2)`` returns complex round-off.
    """
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    tr_covmean = np.sqrt(np.clip(inner, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def frechet_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """FID between feature sets ``(N, D)`` and ``(M, D)``; 0 for identical sets.

    Raises:
        ValueError: fewer images than ``D + 1`` in a set, where the covariance is singular
            and the estimate meaningless; use :func:`kernel_distance` (unbiased at any N).
    """
    x, y = _as_array(a, "features a"), _as_array(b, "features b")
    d = x.shape[1]
    if min(len(x), len(y)) <= d:
        raise ValueError(
            f"FID needs more images than feature dimensions (got {min(len(x), len(y))} for "
            f"D = {d}): the covariance is singular. Use more images or read KID instead"
        )
    return frechet_distance_from_stats(
        x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    )


def kernel_distance(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    subset_size: int = 1000,
    n_subsets: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: unbiased MMD² with the kernel ``(x·y / D + 1)³`` (Binkowski et al., 2018).

    Averaged over ``n_subsets`` random subsets of ``min(subset_size, N/2, M/2)`` per set, as
    torch-fidelity and torchmetrics do (their subsets may reach ``N``). Written out here (a
    few lines of numpy) so that it runs on any features and gives the floors from features
    computed once; their metric objects re-run their own network on images.

    Returns:
        ``(mean, std)`` over subsets; about 0 for two samples of one distribution (it can be
        slightly negative: the estimate is unbiased).
    """
    values = _kid_values(a, b, subset_size, n_subsets, np.random.default_rng(seed))
    return float(np.mean(values)), float(np.std(values))


def _kid_values(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    subset_size: int,
    n_subsets: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The unbiased MMD² of each of ``n_subsets`` random subset pairs ``(n_subsets,)``."""
    x, y = _as_array(a, "features a"), _as_array(b, "features b")
    # Subsets of at most half of each set, so the spread over subsets means something.
    m, d = max(2, min(subset_size, len(x) // 2, len(y) // 2)), x.shape[1]

    def kernel(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        k = u @ v.T / d + 1
        return k * k * k  # faster than k ** 3

    values = np.empty(n_subsets)
    for t in range(n_subsets):
        xs, ys = x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)]
        kxx, kyy = kernel(xs, xs), kernel(ys, ys)
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[t] = off - 2 * kernel(xs, ys).mean()
    return values


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row ``(N,)`` (self excluded)."""
    return _pairwise(x, x).kthvalue(k + 1, dim=1).values  # value 1 is the self-distance 0


def precision_recall(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = 3
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019) on features.

    Each real sample's k-NN radius defines a ball; the union of balls estimates the real
    manifold. Precision is the share of fake samples inside it, recall the share of real
    samples inside the fake manifold built the same way. Hand-written with ``torch.cdist``
    (no maintained package offers it on arbitrary features).

    Args:
        real, fake: features ``(N, D)``, ``(M, D)``.
        k: neighbours for the radii (3, as in the paper).

    Returns:
        ``(precision, recall)`` in ``[0, 1]``; both 1 for identical sets.
    """
    r = torch.from_numpy(_as_array(real, "real features"))
    f = torch.from_numpy(_as_array(fake, "fake features"))
    if min(len(r), len(f)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")

    def inside(query: torch.Tensor, ref: torch.Tensor) -> float:
        radii = _knn_radii(ref, k)
        return float((_pairwise(query, ref) <= radii[None]).any(dim=1).double().mean())

    return inside(f, r), inside(r, f)


def diversity(images: torch.Tensor, n_pairs: int = 500, seed: int = 0) -> tuple[float, str]:
    """Mean MS-SSIM of random pairs of distinct images: lower = more diverse.

    torchmetrics' MS-SSIM (11 px Gaussian window) needs 176 px for its five scales, so
    smaller images use the leading scales that fit (64 px: 3, 128 px: 4), with the standard
    weights renormalised to sum to 1; the name returned says which.

    Args:
        images: ``(N, C, S, S)`` in ``[-1, 1]``, ``N >= 2``.

    Returns:
        ``(mean MS-SSIM, name)``, e.g. ``(0.41, "MS-SSIM (3 scales)")``.
    """
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as ms_ssim,
    )

    x = check_images(images)
    if len(x) < 2:
        raise ValueError("diversity needs at least 2 images")
    size = x.shape[-1]
    scales = next((s for s in (5, 4, 3, 2) if size // (s - 1) ** 2 > 10 and size >= 2**s), 1)
    betas = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)[:scales]
    betas = tuple(b / sum(betas) for b in betas)
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(len(x), (n_pairs,), generator=g)
    j = (i + torch.randint(1, len(x), (n_pairs,), generator=g)) % len(x)  # j != i
    values: list[torch.Tensor] = []
    for s in range(0, n_pairs, 256):
        a, b = x[i[s : s + 256]], x[j[s : s + 256]]
        if scales == 1:
            from torchmetrics.functional.image import structural_similarity_index_measure

            values.append(
                structural_similarity_index_measure(a, b, data_range=2.0, reduction="none")  # type: ignore[arg-type]
            )
        else:
            values.append(ms_ssim(a, b, data_range=2.0, betas=betas, reduction="none"))
    name = "SSIM" if scales == 1 else f"MS-SSIM ({scales} scales)"
    return float(torch.cat(values).mean()), name
