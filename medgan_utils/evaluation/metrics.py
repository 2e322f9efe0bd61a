"""How good, how diverse and how original are generated images? Each score with its floor.

- :func:`frechet_distance` (FID) and :func:`kernel_distance` (KID, unbiased, mean and
  standard deviation over subsets) compare feature distributions;
- :func:`precision_recall` (Kynkaanniemi et al., 2019): the share of generated images
  inside the real k-NN manifold (fidelity) and of real images inside the generated one
  (coverage);
- :func:`diversity`: mean MS-SSIM of random pairs within a set (high = alike, collapse);
- :func:`memorization`: each generated image's distance to its nearest training image,
  compared with how close fresh real images come to the training set.

All of them are finite-sample estimates, so :func:`evaluate` reports every score beside
its *floor*: the same metric between two disjoint real subsets of the same size. A model
is reported as "domain FID 23.1 (real-vs-real floor 4.2, n=768)", never alone.

Features come from :mod:`medgan_utils.evaluation.features`; FID on the default ``"domain"`` features
is *domain FID*, not comparable with the Inception-FID numbers in papers.

Example:
    >>> report = evaluate("builtin", "brain-mri-dcgan-64", n=500)    # doctest: +SKIP
    >>> print(report.to_text())                                       # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.evaluation.features import FeatureExtractor, check_images, get_extractor
from medgan_utils.evaluation.memorization import (
    MemorizationResult,
    _pairwise,
    memorization,
    plot_closest_pairs,
)

if TYPE_CHECKING:
    from medgan_utils.gan.models import Generator

__all__ = [
    "Score",
    "EvaluationReport",
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_distance",
    "precision_recall",
    "diversity",
    "MemorizationResult",
    "memorization",
    "plot_closest_pairs",
    "evaluate",
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
    values = []
    for s in range(0, n_pairs, 256):
        a, b = x[i[s : s + 256]], x[j[s : s + 256]]
        if scales == 1:
            from torchmetrics.functional.image import structural_similarity_index_measure

            values.append(
                structural_similarity_index_measure(a, b, data_range=2.0, reduction="none")
            )
        else:
            values.append(ms_ssim(a, b, data_range=2.0, betas=betas, reduction="none"))
    name = "SSIM" if scales == 1 else f"MS-SSIM ({scales} scales)"
    return float(torch.cat(values).mean()), name


# --------------------------------------------------------------------------- evaluate


@dataclass
class _ImageSet:
    images: torch.Tensor
    subjects: list[str] | None
    description: str


def _is_model(source: object) -> bool:
    from medgan_utils.gan.zoo import SHIPPED_MODELS

    if not isinstance(source, str | Path):
        return False
    path = Path(source)
    return (
        str(source) in SHIPPED_MODELS
        or (path / "generator.safetensors").is_file()
        or (path.suffix == ".safetensors" and path.is_file())
    )


def _prepare(source: Any, image_size: int, what: str) -> _ImageSet | tuple[Generator, str]:
    """A source as images (tensor, dataset, folder, ``builtin``) or as a generator."""
    from medgan_utils.data.dataset import MedicalImageDataset, load_dataset
    from medgan_utils.gan.models import Generator
    from medgan_utils.gan.zoo import load_generator
    from medgan_utils.settings import SUPPORTED_SIZES

    if isinstance(source, Generator):
        return source, "generator"
    if _is_model(source):
        return load_generator(source)[0], str(source)
    if isinstance(source, torch.Tensor):
        return _ImageSet(check_images(source, what), None, f"tensor of {len(source)} images")
    if isinstance(source, MedicalImageDataset):
        return _ImageSet(source.images, source.subjects, f"dataset of {len(source)} images")
    if isinstance(source, str | Path):
        ds = load_dataset(source, image_size if image_size in SUPPORTED_SIZES else 64)
        return _ImageSet(ds.images, ds.subjects, f"{source} ({len(ds)} images)")
    raise TypeError(f"cannot evaluate a {type(source).__name__}: pass images, a path or a model")


def _halves(
    n_total: int, subjects: list[str] | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Two disjoint index sets of the real images, subject-disjoint when ids are known."""
    if subjects is not None and len(set(subjects)) >= 2:
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(subjects):
            groups.setdefault(s, []).append(i)
        a: list[int] = []
        b: list[int] = []
        for s in rng.permutation(sorted(groups)):
            (a if len(a) <= len(b) else b).extend(groups[s])
        return rng.permutation(a), rng.permutation(b), True
    perm = rng.permutation(n_total)
    return perm[: n_total // 2], perm[n_total // 2 :], False


@dataclass
class EvaluationReport:
    """Every metric of one real-vs-generated comparison, each with its real-vs-real floor.

    Attributes:
        real, fake: what was compared, in words.
        n: images per set (real reference, real floor subset, generated).
        n_splits: random real splits the scores are averaged over.
        image_size: side of the images.
        extractor: feature space name; ``feature_dim`` its dimension.
        scores: ``"fid"`` (absent when ``n <= feature_dim``), ``"kid"``, ``"precision"``,
            ``"recall"``, ``"diversity"``, each a :class:`Score`.
        memorization: near-copy check against the training images, or ``None``.
        notes: caveats and warnings, in words.
    """

    real: str
    fake: str
    n: int
    image_size: int
    extractor: str
    feature_dim: int
    seed: int
    n_splits: int
    scores: dict[str, Score]
    memorization: MemorizationResult | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: numbers, names and notes (no arrays)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("scores", "memorization")}
        out["scores"] = {k: s.to_dict() for k, s in self.scores.items()}
        out["memorization"] = self.memorization.summary() if self.memorization else None
        return out

    def to_text(self) -> str:
        """One line per metric with its floor, then the notes."""
        lines = [
            f"real      {self.real}",
            f"fake      {self.fake}",
            f"features  {self.extractor} ({self.feature_dim}-d), {self.image_size} px images",
            f"floors    the same metric between two disjoint real subsets of n={self.n}",
            f"          mean ± sd over {self.n_splits} random splits (KID: sd over subsets)",
            "",
            *(f"  {s}" for s in self.scores.values()),
        ]
        if self.memorization is not None:
            lines.append(f"  {self.memorization}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    __str__ = to_text


def _scores(
    real: torch.Tensor,
    fake: torch.Tensor,
    splits: list[tuple[np.ndarray, np.ndarray]],
    ext: FeatureExtractor,
    k: int,
    seed: int,
    notes: list[str],
) -> dict[str, Score]:
    """FID, KID, precision and recall of ``fake`` against each split's first real half
    (value) and of the second half against the first (floor), averaged over the splits."""
    used = np.unique(np.concatenate([np.concatenate(ab) for ab in splits]))
    feats = torch.zeros(len(real), ext.dim, dtype=torch.float64)
    feats[used] = ext(real[used])
    ff, n = ext(fake), len(splits[0][0])
    pairs = [(feats[a], feats[b]) for a, b in splits]
    prefix = f"{ext.label} " if ext.label else ""

    def score(name: str, values: list[float], floors: list[float], **kw: Any) -> Score:
        if len(splits) > 1:
            kw |= {"std": float(np.std(values)), "floor_std": float(np.std(floors))}
        return Score(name, float(np.mean(values)), float(np.mean(floors)), n, ext.name, **kw)

    scores: dict[str, Score] = {}
    if n > ext.dim:
        fid = [(frechet_distance(a, ff), frechet_distance(a, b)) for a, b in pairs]
        scores["fid"] = score(f"{prefix}FID", *map(list, zip(*fid, strict=True)))
    else:
        msg = (
            f"FID skipped: n={n} images per set is not more than the {ext.dim} feature "
            "dimensions (singular covariance); read KID, unbiased at any n, or use more images"
        )
        warnings.warn(msg, stacklevel=3)
        notes.append(msg)
    # KID: 100 subsets in all, pooled over the splits; its ± is the spread over subsets.
    rng, per = np.random.default_rng(seed), max(1, 100 // len(splits))
    kid = np.concatenate([_kid_values(a, ff, 1000, per, rng) for a, _ in pairs])
    kid0 = np.concatenate([_kid_values(a, b, 1000, per, rng) for a, b in pairs])
    scores["kid"] = Score(
        f"{prefix}KID", kid.mean(), kid0.mean(), n, ext.name, kid.std(), kid0.std()
    )
    pr = [(precision_recall(a, ff, k), precision_recall(a, b, k)) for a, b in pairs]
    for i, name in enumerate(("precision", "recall")):
        values, floors = [v[i] for v, _ in pr], [f[i] for _, f in pr]
        scores[name] = score(name, values, floors, higher_is_better=True)
    return scores


def evaluate(
    real: Any,
    fake: Any,
    n: int | None = None,
    extractor: str | FeatureExtractor = "domain",
    seed: int = 0,
    *,
    train: Any = None,
    heldout: Any = None,
    check_memorization: bool = True,
    k: int = 3,
    n_splits: int = 5,
) -> EvaluationReport:
    """Compare generated images with real ones: FID, KID, precision/recall, diversity and
    near-copies, each beside its real-vs-real floor.

    The real images are split into two disjoint halves (by subject when the source knows
    subjects); ``n`` images of one half are the reference, ``n`` of the other give the
    floors, and ``n`` generated images are scored against the same reference. This is
    repeated for ``n_splits`` random splits and averaged.

    Args:
        real: a tensor ``(N, C, S, S)`` in ``[-1, 1]``, a :class:`MedicalImageDataset`, or a
            folder/file/``"builtin"`` for :func:`~medgan_utils.data.dataset.load_dataset`.
        fake: the same kinds, or a model: a shipped model name, a folder with
            ``generator.safetensors``, or a :class:`~medgan_utils.gan.models.Generator`
            (``n`` images are generated with ``seed``).
        n: images per set; default and maximum: half the real set (at most 5,000).
        extractor: ``"domain"`` (default, offline), ``"inception"``, ``"pixels"`` or an
            extractor instance.
        seed: seeds the real split, the generation, KID subsets and diversity pairs.
        train: the model's training images for the near-copy check; default ``real``.
        heldout: real images the model never saw, to calibrate that check; default: the
            training images, one subject left out at a time.
        check_memorization: run the near-copy check.
        k: neighbours for precision and recall.
        n_splits: random real splits (reference half, floor half) that FID, KID, precision
            and recall are averaged over; their ± is the spread over splits (KID: over its
            subsets). One split's floor depends much on which subjects it drew.

    Raises:
        ValueError: sets of different image size or channel count, NaN images, or a real
            set of fewer than 4 images. DataError: an unreadable or empty folder.
    """
    from medgan_utils.gan.zoo import generate

    ext = get_extractor(extractor)
    is_path = lambda s: isinstance(s, str | Path) and not _is_model(s)  # noqa: E731
    fake_src = None if is_path(fake) else _prepare(fake, 64, "fake images")
    real_src = None if is_path(real) else _prepare(real, 64, "real images")
    size = 64
    for src in (fake_src, real_src):
        if isinstance(src, tuple):
            size = src[0].config.image_size
        elif src is not None:
            size = src.images.shape[-1]
        if src is not None:
            break
    fake_src = fake_src or _prepare(fake, size, "fake images")
    real_src = real_src or _prepare(real, size, "real images")
    if not isinstance(real_src, _ImageSet):
        raise ValueError(
            "real must be images (a tensor, dataset, folder or 'builtin'), not a model"
        )

    notes: list[str] = []
    rng = np.random.default_rng(seed)
    n_real = len(real_src.images)
    splits = [_halves(n_real, real_src.subjects, rng) for _ in range(max(1, n_splits))]
    limit = min(5000, *(min(len(a), len(b)) for a, b, _ in splits))
    if isinstance(fake_src, _ImageSet):
        limit = min(limit, len(fake_src.images))
    if limit < 2:
        raise ValueError(f"the real set has {n_real} images; at least 4 are needed")
    n_eff = min(n or limit, limit)
    if n is not None and n > n_eff:
        notes.append(f"asked for n={n}, used n={n_eff}: the floor needs two disjoint real subsets")
    if not splits[0][2]:
        notes.append("real halves are split by image (no subject ids): the floor may be optimistic")
    splits = [(a[:n_eff], b[:n_eff]) for a, b, _ in splits]
    if isinstance(fake_src, _ImageSet):
        fake_images = fake_src.images[rng.permutation(len(fake_src.images))[:n_eff]]
        fake_text = fake_src.description
    else:
        G, name = fake_src
        fake_images = generate(G, n_eff, seed=seed)
        fake_text = f"{name} ({n_eff} generated, seed {seed})"
    fake_images = check_images(fake_images, "fake images")
    real_a = real_src.images[splits[0][0]]
    if fake_images.shape[1:] != real_a.shape[1:]:
        c, s = fake_images.shape[1], fake_images.shape[-1]
        raise ValueError(
            f"real images are {real_a.shape[1]} x {real_a.shape[-1]}² but fake images are "
            f"{c} x {s}²: compare sets of one size and channel count (load folders with "
            f"load_dataset(path, image_size={s}) or resize the tensors)"
        )

    scores = _scores(real_src.images, fake_images, splits, ext, k, seed, notes)
    div, div_name = diversity(fake_images, seed=seed)
    scores["diversity"] = Score(
        f"{div_name} within set",
        div,
        diversity(real_a, seed=seed)[0],
        n_eff,
        "pixels",
        floor_label="within real",
    )
    if ext.name == "domain":
        notes.append("domain FID/KID use the project's MRI encoder: not comparable with papers")

    mem = None
    if check_memorization:
        tr = real_src if train is None else _prepare(train, size, "train images")
        ho = None if heldout is None else _prepare(heldout, size, "held-out images")
        if not isinstance(tr, _ImageSet) or (ho is not None and not isinstance(ho, _ImageSet)):
            raise ValueError("train and heldout must be images, not models")
        mem = memorization(
            fake_images, tr.images, ho.images if ho else None, train_subjects=tr.subjects, seed=seed
        )
    return EvaluationReport(
        real=real_src.description,
        fake=fake_text,
        n=n_eff,
        image_size=int(real_a.shape[-1]),
        extractor=ext.name,
        feature_dim=ext.dim,
        seed=seed,
        n_splits=max(1, n_splits),
        scores=scores,
        memorization=mem,
        notes=notes,
    )
