"""Compare generated images with real ones: every score beside its real-vs-real floor.

:func:`evaluate` splits the real images into two disjoint halves (by subject when the source
knows subjects), scores ``n`` generated images against one half and the other half against
it (the *floor*: what a perfect generator would score at this ``n``), over several random
splits; it adds diversity within each set and the near-copy check of
:mod:`medgan_utils.evaluation.memorization`. The scores themselves are the functions of
:mod:`medgan_utils.evaluation.metrics`.

FID, KID, precision and recall are measured in each feature space asked for, by default
both of the project's (:data:`DEFAULT_SPACES`): ``"domain"``, whose encoder also learnt to
spot synthetic artefacts (strict on texture), and ``"anatomy"``, the same network trained
without them (what the slices show). The first space's scores keep the plain keys
(``"fid"``, ``"kid"``, ``"precision"``, ``"recall"``); each further space's are prefixed
with its name (``"anatomy_fid"``, ...).

An :class:`EvaluationReport` reads as text (:meth:`~EvaluationReport.to_text`), JSON
(:meth:`~EvaluationReport.to_dict`) or table rows (:meth:`~EvaluationReport.to_rows`, the
app's table); :func:`reports_table` sets several models side by side with the floor below
them (chapter 4).

Example:
    >>> report = evaluate("builtin", "brain-mri-dcgan-64", n=500)    # doctest: +SKIP
    >>> print(report.to_text())                                       # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.evaluation.features import (
    SPACE_DESCRIPTIONS,
    FeatureExtractor,
    check_images,
    get_extractor,
)
from medgan_utils.evaluation.memorization import MemorizationResult, memorization
from medgan_utils.evaluation.metrics import (
    Score,
    _kid_values,
    diversity,
    frechet_distance,
    precision_recall,
)

if TYPE_CHECKING:
    import pandas as pd

    from medgan_utils.gan.models import Generator

__all__ = ["DEFAULT_SPACES", "EvaluationReport", "evaluate", "reports_table", "score_key"]

FLOOR_ROW = "floor (real vs real)"
#: The feature spaces :func:`evaluate` (and ``medgan metrics``) measure in by default.
DEFAULT_SPACES = ("domain", "anatomy")
PROJECT_SPACES = ("domain", "anatomy")  # the project's own encoders: not papers' FID


def score_key(metric: str, space_index: int, space: str) -> str:
    """The key of a score in :attr:`EvaluationReport.scores`: ``metric`` for the first
    feature space (``"fid"``), ``"<space>_<metric>"`` for the others (``"anatomy_fid"``)."""
    return metric if space_index == 0 else f"{space}_{metric}"


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
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.data.load import load_dataset
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
        from medgan_utils.exports import read_samples

        size = image_size if image_size in SUPPORTED_SIZES else 64
        # a `medgan generate` folder: its samples, not its grid.png (the exports naming rule)
        ds = read_samples(source, size)
        if ds is None:
            ds = load_dataset(source, size)
        return _ImageSet(ds.images, ds.subjects, f"{source} ({len(ds)} images)")
    raise TypeError(f"cannot evaluate a {type(source).__name__}: pass images, a path or a model")


def _halves(
    n_total: int, subjects: list[str] | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Two disjoint index sets of the real images, subject-disjoint when ids are known; the
    flag says whether that split was by subject. Where every image is its own subject (no
    subject ids, e.g. MedMNIST) it is a split by image, and the flag says so."""
    if subjects is not None and 2 <= len(set(subjects)) < n_total:
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
        extractor: the first feature space's name; ``feature_dim`` its dimension.
        scores: ``"fid"`` (absent when ``n <= feature_dim``), ``"kid"``, ``"precision"``,
            ``"recall"`` in the first feature space, the same prefixed with the space's name
            for every further one (``"anatomy_fid"``, see :func:`score_key`), and
            ``"diversity"`` (pixels), each a :class:`Score`.
        memorization: near-copy check against the training images, or ``None``.
        notes: caveats and warnings, in words.
        spaces: every feature space measured, name -> dimension, the first one first
            (``{"domain": 128, "anatomy": 128}``); empty in reports made before there were
            several, which measured ``extractor`` only.
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
    spaces: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.spaces:
            self.spaces = {self.extractor: self.feature_dim}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: numbers, names and notes (no arrays)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("scores", "memorization")}
        out["scores"] = {k: s.to_dict() for k, s in self.scores.items()}
        out["memorization"] = self.memorization.summary() if self.memorization else None
        return out

    def to_text(self) -> str:
        """One line per metric with its floor (grouped by feature space), then the notes."""
        spaces = [
            f"{name} ({dim}-d)"
            + (f": {SPACE_DESCRIPTIONS[name]}" if name in SPACE_DESCRIPTIONS else "")
            for name, dim in self.spaces.items()
        ]
        lines = [
            f"real      {self.real}",
            f"fake      {self.fake}",
            f"images    {self.image_size} px",
            *(f"{'features' if i == 0 else '':10}{text}" for i, text in enumerate(spaces)),
            f"floors    the same metric between two disjoint real subsets of n={self.n}",
            f"          mean ± sd over {self.n_splits} random splits (KID: sd over subsets)",
        ]
        previous = None
        for score in self.scores.values():
            if score.extractor != previous:
                lines.append("")
                previous = score.extractor
            lines.append(f"  {score}")
        if self.memorization is not None:
            lines.append(f"  {self.memorization}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    __str__ = to_text

    def to_rows(self, digits: int | None = None) -> list[dict[str, Any]]:
        """One row per score: ``metric``, ``model`` (its value), ``floor (real vs real)``,
        ``n`` and ``better`` (``"higher"``, ``"lower"`` or ``"near the floor"``).

        Args:
            digits: round the values and floors to this many decimals (``None``: as is).
        """
        fmt = (lambda v: float(v)) if digits is None else (lambda v: round(float(v), digits))
        return [
            {
                "metric": s.name,
                "model": fmt(s.value),
                FLOOR_ROW: fmt(s.floor),
                "n": int(s.n),
                "better": _better(s),
            }
            for s in self.scores.values()
        ]


def _better(score: Score) -> str:
    """Which way a score is better: precision and recall higher, diversity like the real
    set (its floor is the real set's own diversity), the distances lower."""
    if score.higher_is_better:
        return "higher"
    return "near the floor" if "within" in score.floor_label else "lower"


def reports_table(reports: Mapping[str, EvaluationReport]) -> pd.DataFrame:
    """Several models' reports side by side: one row per model, one column per score, and
    the floor (the same for every report of one real set, ``n`` and seed) as the last row.

    Args:
        reports: ``{model name: report}``, e.g. from :func:`evaluate` on one real set with
            one ``n``, seed and feature space.

    Returns:
        A pandas ``DataFrame`` indexed by model name (and ``"floor (real vs real)"``), its
        columns the score names (``"domain FID"``, ``"domain KID"``, ``"precision"``, ...);
        a score a report lacks (FID with too few images) is NaN.

    Raises:
        ValueError: no reports, or reports whose floors differ (other real images, ``n``,
            seed or features): their scores do not compare.
    """
    import pandas as pd

    if not reports:
        raise ValueError("reports_table needs at least one report")
    names: dict[str, str] = {}  # score key -> column name, in the reports' order
    floors: dict[str, float] = {}
    for model, report in reports.items():
        for key, score in report.scores.items():
            names.setdefault(key, score.name)
            floors.setdefault(key, score.floor)
            if not np.isclose(score.floor, floors[key], rtol=1e-9, atol=1e-12):
                raise ValueError(
                    f"{model!r} has another {score.name} floor ({score.floor:.4g}, not "
                    f"{floors[key]:.4g}): compare reports of one real set, n, seed and "
                    "feature space"
                )
    rows = {
        model: {names[k]: r.scores[k].value if k in r.scores else np.nan for k in names}
        for model, r in reports.items()
    }
    rows[FLOOR_ROW] = {names[k]: floors[k] for k in names}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(names.values()))
    table.index.name = "model"
    return table


def _scores(
    real: torch.Tensor,
    fake: torch.Tensor,
    splits: list[tuple[np.ndarray, np.ndarray]],
    ext: FeatureExtractor,
    k: int,
    seed: int,
    notes: list[str],
    named: bool = False,
) -> dict[str, Score]:
    """FID, KID, precision and recall of ``fake`` against each split's first real half
    (value) and of the second half against the first (floor), averaged over the splits.

    ``named``: precision and recall carry the space's name (``"anatomy precision"``), for
    reports of several spaces; the keys are always the plain metric names."""
    used = np.unique(np.concatenate([np.concatenate(ab) for ab in splits]))
    feats = torch.zeros(len(real), ext.dim, dtype=torch.float64)
    feats[used] = ext(real[used])
    ff, n = ext(fake), len(splits[0][0])
    pairs = [(feats[a], feats[b]) for a, b in splits]
    prefix = f"{ext.label} " if ext.label else ""
    tag = f"{ext.label or ext.name} " if named else ""

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
            f"{prefix}FID skipped: n={n} images per set is not more than the {ext.dim} feature "
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
        scores[name] = score(f"{tag}{name}", values, floors, higher_is_better=True)
    return scores


def _extractors(
    extractor: str | FeatureExtractor | Sequence[str | FeatureExtractor],
) -> list[FeatureExtractor]:
    """One extractor per feature space asked for, each space once."""
    items = [extractor] if isinstance(extractor, str | FeatureExtractor) else list(extractor)
    if not items:
        raise ValueError("extractor: name at least one feature space, e.g. 'domain'")
    exts = [get_extractor(e) for e in items]
    names = [e.name for e in exts]
    if len(set(names)) < len(names):
        raise ValueError(f"extractor: each feature space once, got {', '.join(names)}")
    return exts


def evaluate(
    real: Any,
    fake: Any,
    n: int | None = None,
    extractor: str | FeatureExtractor | Sequence[str | FeatureExtractor] = DEFAULT_SPACES,
    seed: int = 0,
    *,
    train: Any = None,
    heldout: Any = None,
    check_memorization: bool = True,
    k: int = 3,
    n_splits: int = 5,
) -> EvaluationReport:
    """Compare generated images with real ones: FID, KID, precision/recall (in each feature
    space asked for), diversity and near-copies, each beside its real-vs-real floor.

    The real images are split into two disjoint halves (by subject when the source knows
    subjects; by image, with a note, where it has none, as in MedMNIST); ``n`` images of
    one half are the reference, ``n`` of the other give the floors, and ``n`` generated
    images are scored against the same reference. This is repeated for ``n_splits`` random
    splits and averaged.

    Args:
        real: a tensor ``(N, C, S, S)`` in ``[-1, 1]``, a :class:`MedicalImageDataset`, or a
            folder/file/``"builtin"`` for :func:`~medgan_utils.data.load.load_dataset`.
        fake: the same kinds, or a model: a shipped model name, a folder with
            ``generator.safetensors``, or a :class:`~medgan_utils.gan.models.Generator`
            (``n`` images are generated with ``seed``).
        n: images per set; default and maximum: half the real set (at most 5,000).
        extractor: the feature spaces, a name or instance or a sequence of them: default
            :data:`DEFAULT_SPACES` (``"domain"`` and ``"anatomy"``, both offline); also
            ``"inception"`` (papers' FID; downloads its weights), ``"pixels"``. The first
            space's scores have the plain keys (``"fid"``), the others' are prefixed.
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
        ValueError: sets of different image size or channel count, NaN images, a real set
            of fewer than 4 images, or a feature space named twice. DataError: an
            unreadable or empty folder.
    """
    from medgan_utils.gan.zoo import generate

    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    exts = _extractors(extractor)
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
    if isinstance(fake_src, tuple) and fake_src[0].config.conditional:
        raise ValueError(
            f"{fake_src[1]} is class-conditional: score each class against the real images "
            "of that class with medgan_utils.evaluation.conditional.evaluate_conditional "
            "(medgan metrics does this for a conditional model)"
        )
    real_src = real_src or _prepare(real, size, "real images")
    if not isinstance(real_src, _ImageSet):
        raise ValueError(
            "real must be images (a tensor, dataset, folder or 'builtin'), not a model"
        )

    notes: list[str] = []
    rng = np.random.default_rng(seed)
    n_real = len(real_src.images)
    halves = [_halves(n_real, real_src.subjects, rng) for _ in range(max(1, n_splits))]
    limit = min(5000, *(min(len(a), len(b)) for a, b, _ in halves))
    if isinstance(fake_src, _ImageSet):
        limit = min(limit, len(fake_src.images))
    if limit < 2:
        raise ValueError(f"the real set has {n_real} images; at least 4 are needed")
    n_eff = min(n or limit, limit)
    if n is not None and n > n_eff:
        notes.append(f"asked for n={n}, used n={n_eff}: the floor needs two disjoint real subsets")
    if not halves[0][2]:
        notes.append("real halves are split by image (no subject ids): the floor may be optimistic")
    splits = [(a[:n_eff], b[:n_eff]) for a, b, _ in halves]
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

    scores: dict[str, Score] = {}
    for i, ext in enumerate(exts):
        space = _scores(real_src.images, fake_images, splits, ext, k, seed, notes, len(exts) > 1)
        scores |= {score_key(key, i, ext.name): value for key, value in space.items()}
    div, div_name = diversity(fake_images, seed=seed)
    scores["diversity"] = Score(
        f"{div_name} within set",
        div,
        diversity(real_a, seed=seed)[0],
        n_eff,
        "pixels",
        floor_label="within real",
    )
    own = [e.name for e in exts if e.name in PROJECT_SPACES]
    if own:
        notes.append(
            f"{' and '.join(own)} FID/KID use the project's MRI encoder"
            f"{'s' if len(own) > 1 else ''}: not comparable with papers"
        )

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
        extractor=exts[0].name,
        feature_dim=exts[0].dim,
        seed=seed,
        n_splits=max(1, n_splits),
        scores=scores,
        memorization=mem,
        notes=notes,
        spaces={e.name: e.dim for e in exts},
    )
