"""A built-in brain-MRI dataset that needs no download.

**These are not real patients.** Every image is derived from one brain: the MNI152 2009a
symmetric T1 template (an average of 152 adult scans) that nilearn ships inside its wheel.
Seeded augmentation turns it into "virtual subjects" (``vs-0000``, ``vs-0001``, ...):

- *anatomy*: a small in-plane affine (rotation, scale, shift) and a smooth elastic warp,
  shared by all slices of a subject, plus a per-subject shift of the axial levels taken;
- *scanner*: a smooth multiplicative bias field, a gamma change of contrast and Rician
  noise (the magnitude of the signal plus complex Gaussian noise), then a per-subject
  scaling to ``[-1, 1]`` (background ``-1``) so that slices within a subject are comparable;
- *sites*: each subject belongs to simulated acquisition site ``"A"`` (70 % of subjects by
  default) or ``"B"`` (30 %); site B is noisier and has a steeper gamma. Both variants carry
  the site in ``SliceMeta.groups``; the unlabelled variant's subjects are all healthy;
- *lesions* (labelled variant only): a simulated hyperintense 3-D blob (soft-edged
  ellipsoid, 5-14 mm mean radius, sometimes with a darker core; 1 to ``max_lesions`` per
  subject) in 35 % of site-A and 65 % of site-B subjects, added before the scanner effects.
  A slice is ``"lesion"`` when its lesion area is at least ``min_lesion_area_mm2`` (20 mm²,
  about a 5 mm disc), else ``"no_lesion"``; the area is the sum of the soft lesion weight
  over the 1 mm template slice (partial volume counted), so labels do not depend on
  ``image_size``. Labels index
  ``classes = ["lesion", "no_lesion"]`` (sorted, as elsewhere in :mod:`medgan_utils.data.dataset`):
  0 = lesion, 1 = no_lesion.

Subject ``i``'s anatomy and scanner draws depend only on ``(seed, labelled, i)``, so the
labelled and unlabelled sets never share a virtual subject; which subjects belong to site B
or carry a lesion is drawn in exact proportions (rounded) for the whole set.

Slices: the axial levels where the template brain covers at least ``min_brain_fraction``
(25 %) of the 197 x 233 mm slice (z = 42-127 of 189, cerebellum to upper parietal lobes),
shrunk by ``level_jitter_mm`` at each end; each subject gets ``slices_per_subject`` evenly
spaced levels from that range, all shifted by one random offset in
``[-level_jitter_mm, level_jitter_mm]``. Images show a 224 mm field of view oriented as
``np.rot90(volume[:, :, k])`` of the RAS template: anterior at the top, the subject's left
on the image's left (nilearn's neurological convention).

The set is meant for learning and testing the pipeline offline. For real studies, point
:func:`medgan_utils.data.load.load_dataset` (folder, NIfTI and DICOM readers) at public data such
as the Kaggle brain-tumour MRI set, MedNIST, BraTS, IXI or OASIS.

Example:
    >>> ds = load_builtin(BuiltinConfig(labelled=True, n_subjects=8))   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import warnings
import zipfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from scipy.special import expit

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.slices import SliceMeta
from medgan_utils.errors import DataError
from medgan_utils.settings import SUPPORTED_SIZES, atomic_path

__all__ = [
    "BUILTIN_VERSION",
    "BuiltinConfig",
    "template_path",
    "build_builtin",
    "load_builtin",
    "cache_file",
]

BUILTIN_VERSION = 1  # bump when the generation algorithm changes; part of the cache key

# name -> (path inside the nilearn package, sha256), like d2l's DATA_HUB.
TEMPLATES: dict[str, tuple[str, str]] = {
    "mni152_t1": (
        "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
        "421a10e872fd6cadae7f61d358dffbcc1795a497d61ee76c5dda2503e1a1e9e6",
    ),
}
SOURCE = "builtin:mni152"
CLASSES = ("lesion", "no_lesion")
FOV_MM = 224.0  # side of the square field of view
BRAIN_THRESHOLD = 0.05  # template intensity (in [0, 1]) above which a voxel is brain
HEADROOM = 1.15  # normalised intensity mapped to +1; healthy tissue's 99th percentile is 1


@dataclass(frozen=True)
class BuiltinConfig:
    """What to generate; every field is part of the cache key.

    Tuples hold one value per site, ``(A, B)``. Each subject's gamma and noise sigma are the
    site's value times a small random factor; sigma is relative to the 99th percentile of
    the subject's healthy brain intensity and is drawn per output pixel.

    Example:
        >>> BuiltinConfig(labelled=True, image_size=32, n_subjects=4).slices_per_subject
        32
    """

    labelled: bool = False
    image_size: int = 64
    n_subjects: int = 48
    slices_per_subject: int = 32
    seed: int = 0
    site_b_fraction: float = 0.3  # share of subjects at site B (rounded to whole subjects)
    lesion_prevalence: tuple[float, float] = (0.35, 0.65)  # share of each site's subjects
    max_lesions: int = 3  # a lesion subject has 1..max_lesions lesions
    noise_sigma: tuple[float, float] = (0.02, 0.05)  # Rician noise
    gamma: tuple[float, float] = (1.0, 1.4)  # contrast: intensity ** gamma
    min_brain_fraction: float = 0.25  # axial levels used: brain covers this much of the slice
    level_jitter_mm: int = 3  # per-subject shift of all levels, up to +- this
    min_lesion_area_mm2: float = 20.0  # a slice is "lesion" from this lesion area on
    rotation_deg: float = 5.0  # in-plane rotation, uniform in +- this
    scale: float = 0.08  # zoom, uniform in 1 +- this
    shift_mm: float = 4.0  # in-plane shift, uniform in +- this per axis
    elastic_mm: float = 2.0  # std of the smooth elastic displacement
    bias_log_std: float = 0.15  # std of the log of the smooth multiplicative bias field

    def __post_init__(self) -> None:
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if self.n_subjects < 1 or self.slices_per_subject < 1:
            raise ValueError("n_subjects and slices_per_subject must be at least 1")
        if not 0 <= self.site_b_fraction <= 1 or not all(
            0 <= p <= 1 for p in self.lesion_prevalence
        ):
            raise ValueError("site_b_fraction and lesion_prevalence must lie in [0, 1]")


def template_path(name: str = "mni152_t1") -> Path:
    """Return the path of a template shipped by nilearn, after checking its sha256.

    Raises:
        ImportError: nilearn is not installed.
        DataError: the file is missing or differs from the recorded checksum.
    """
    relative, sha256 = TEMPLATES[name]
    spec = importlib.util.find_spec("nilearn")  # locate the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the built-in dataset needs nilearn: pip install 'nilearn>=0.10'")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DataError(path, "nilearn's MNI152 template is missing; reinstall nilearn")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise DataError(path, f"sha256 {digest} differs from the recorded {sha256}")
    return path


@lru_cache(maxsize=1)
def _display_volume() -> np.ndarray:
    """The template as ``(Z, H, W) = (189, 233, 197)`` float32 in ``[0, 1]``, read-only.

    ``volume[k]`` equals ``np.rot90(template[:, :, k])``: row 0 is anterior, column 0 left.
    """
    import nibabel as nib

    # nib.load is typed as the base FileBasedImage; a NIfTI file gives a SpatialImage.
    img = cast("nib.spatialimages.SpatialImage", nib.load(template_path()))
    if nib.aff2axcodes(img.affine) != ("R", "A", "S"):
        raise DataError(template_path(), "expected an RAS template")
    vol = np.asarray(img.dataobj, dtype=np.float32) / 255.0
    disp = np.ascontiguousarray(np.rot90(vol, axes=(0, 1)).transpose(2, 0, 1))
    disp.setflags(write=False)
    return disp


@lru_cache(maxsize=1)
def _layout() -> tuple[np.ndarray, float, float]:
    """Brain coverage of each axial level ``(Z,)`` and the brain's bounding-box centre
    ``(row, col)`` in display pixels (about 115, 98)."""
    brain = _display_volume() > BRAIN_THRESHOLD
    rows = np.flatnonzero(brain.any(axis=(0, 2)))
    cols = np.flatnonzero(brain.any(axis=(0, 1)))
    return brain.mean(axis=(1, 2)), (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2


def _levels_range(config: BuiltinConfig) -> tuple[int, int]:
    """First and last axial level the brain covers ``min_brain_fraction`` of, less jitter."""
    ok = np.flatnonzero(_layout()[0] >= config.min_brain_fraction)
    lo, hi = int(ok[0]) + config.level_jitter_mm, int(ok[-1]) - config.level_jitter_mm
    if hi - lo + 1 < config.slices_per_subject:
        raise ValueError(f"only {hi - lo + 1} levels for {config.slices_per_subject} slices")
    return lo, hi


def _smooth_field(
    rng: np.random.Generator, channels: int, n: int, size: int, grid: tuple[int, ...], std: float
) -> torch.Tensor:
    """Gaussian values on a coarse ``(z, y, x)`` grid, upsampled: ``(n, channels, size, size)``.

    Linear between the coarse levels along z, bicubic in-plane, so the field is smooth.
    """
    coarse = torch.from_numpy(rng.normal(0.0, std, (1, channels, *grid)).astype(np.float32))
    coarse = F.interpolate(coarse, size=(n, *grid[1:]), mode="trilinear", align_corners=True)
    return F.interpolate(
        coarse[0].transpose(0, 1), size=(size, size), mode="bicubic", align_corners=True
    )


def _add_lesion(
    stack: np.ndarray, levels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Blend a soft-edged, randomly rotated ellipsoid into the template slices.

    Args:
        stack: ``(N, H, W)`` template slices in ``[0, 1]`` at 1 mm, display orientation.
        levels: ``(N,)`` their axial levels (mm), evenly spaced.

    Returns:
        The slices with the lesion, and ``(N, H, W)`` lesion weight in ``[0, 1]``.
    """
    brain = stack > BRAIN_THRESHOLD
    radius = rng.uniform(5.0, 14.0)
    radii = radius * rng.uniform(0.8, 1.25, 3)
    # Centre on an inner slice, at least ``radius`` deep inside that slice's brain mask.
    k = int(rng.integers(1, len(levels) - 1)) if len(levels) > 2 else 0
    depth = ndimage.distance_transform_edt(brain[k])
    rows, cols = np.nonzero(depth >= min(radius, depth.max()))
    pick = int(rng.integers(len(rows)))
    centre = np.array([levels[k], rows[pick], cols[pick]], dtype=np.float64)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # a random orthogonal matrix
    z, r, c = np.meshgrid(
        levels, np.arange(stack.shape[1]), np.arange(stack.shape[2]), indexing="ij"
    )
    offset = np.stack([z, r, c], axis=-1).astype(np.float32) - centre.astype(np.float32)
    d = np.linalg.norm((offset @ rotation.astype(np.float32)) / radii.astype(np.float32), axis=-1)
    edge = 1.0 / radius  # about 1 mm of soft edge, in units of the normalised radius d
    weight = expit((1.0 - d) / edge) * brain
    value = rng.uniform(1.3, 1.6) * np.percentile(stack[brain], 99)
    if radius > 6 and rng.random() < 0.5:  # a darker (necrotic-looking) core
        core = expit((0.5 - d) / edge)
        value = value * (1.0 - rng.uniform(0.4, 0.7) * core)
    out = stack * (1 - weight) + weight * value
    return out.astype(np.float32), weight.astype(np.float32)


def _warp(channels: np.ndarray, config: BuiltinConfig, rng: np.random.Generator) -> torch.Tensor:
    """Apply one subject's affine and elastic warp to its slices.

    Hand-written with ``grid_sample`` because TorchIO/MONAI are not dependencies and their
    3-D resampling of the whole volume would be far slower than warping the chosen slices.

    Args:
        channels: ``(N, C, H, W)`` float32 template-space slices at 1 mm.

    Returns:
        ``(N, C, S, S)``, sampled at >= 128 px (<= 1.75 mm) and area-downsampled to
        ``S = image_size`` so that nothing aliases; outside the template is 0.
    """
    n, size = len(channels), config.image_size
    work = max(2 * size, 128)
    theta = math.radians(rng.uniform(-config.rotation_deg, config.rotation_deg))
    zoom = 1.0 + rng.uniform(-config.scale, config.scale)
    shift = rng.uniform(-config.shift_mm, config.shift_mm, 2)
    elastic = _smooth_field(rng, 2, n, work, (3, 5, 5), config.elastic_mm)  # (N, 2, work, work)
    u = (torch.arange(work, dtype=torch.float32) + 0.5) * (FOV_MM / work) - FOV_MM / 2
    v, u = torch.meshgrid(u, u, indexing="ij")  # output pixel: mm down / right of the centre
    cos, sin = math.cos(theta) / zoom, math.sin(theta) / zoom
    src_u = cos * u - sin * v + shift[0] + elastic[:, 0]  # source position, mm (= pixels)
    src_v = sin * u + cos * v + shift[1] + elastic[:, 1]
    _, row0, col0 = _layout()
    h, w = channels.shape[2:]
    # grid_sample's coordinates (align_corners=False): pixel centre c -> (2c + 1) / W - 1.
    grid = torch.stack([(2 * (col0 + src_u) + 1) / w - 1, (2 * (row0 + src_v) + 1) / h - 1], -1)
    warped = F.grid_sample(
        torch.from_numpy(channels), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return F.avg_pool2d(warped, work // size)


def _scanner(
    x: torch.Tensor,
    healthy: torch.Tensor,
    config: BuiltinConfig,
    site: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bias field, per-subject normalisation, gamma and Rician noise; scale to ``[-1, 1]``.

    Args:
        x: ``(N, S, S)`` one subject's warped slices, ``>= 0``, background 0.
        healthy: ``(N, S, S)`` bool, brain pixels without lesion (for the normalisation).

    Returns:
        ``(N, S, S)`` float32 in ``[-1, 1]``: background about ``-1`` (plus the noise floor),
        the 99th percentile of healthy brain at ``2 / HEADROOM - 1``, lesions up to ``+1``.
    """
    n, size = x.shape[:2]
    x = x * torch.exp(_smooth_field(rng, 1, n, size, (3, 4, 4), config.bias_log_std)[:, 0])
    x = x / float(np.percentile(x[healthy].numpy(), 99))
    gamma = config.gamma[site] * math.exp(rng.normal(0.0, 0.05))
    sigma = config.noise_sigma[site] * rng.uniform(0.8, 1.2)
    noise = torch.from_numpy(rng.standard_normal((2, n, size, size), dtype=np.float32))
    x = torch.hypot(x**gamma + sigma * noise[0], sigma * noise[1])  # Rician magnitude
    return (2 * x / HEADROOM - 1).clamp(-1, 1).numpy()


def _subject(
    config: BuiltinConfig, index: int, site: int, lesion: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate one virtual subject.

    Returns:
        ``(N, S, S)`` float32 images in ``[-1, 1]``, ``(N,)`` axial levels and ``(N,)``
        booleans "lesion visible in this slice".
    """
    # Anatomy and scanner draws come from one generator, the lesion from another, so a
    # subject looks the same with and without its lesion.
    rng = np.random.default_rng((config.seed, int(config.labelled), index, 0))
    lo, hi = _levels_range(config)
    offset = int(rng.integers(-config.level_jitter_mm, config.level_jitter_mm + 1))
    levels = np.round(np.linspace(lo, hi, config.slices_per_subject)).astype(np.int64) + offset
    stack = _display_volume()[levels]  # (N, 233, 197)
    weight = np.zeros_like(stack)
    if lesion:
        lesion_rng = np.random.default_rng((config.seed, int(config.labelled), index, 1))
        for _ in range(int(lesion_rng.integers(1, config.max_lesions + 1))):
            stack, w = _add_lesion(stack, levels, lesion_rng)
            weight = np.maximum(weight, w)
    visible = weight.sum(axis=(1, 2)) >= config.min_lesion_area_mm2  # voxels are 1 mm²
    warped = _warp(np.stack([stack, weight], axis=1), config, rng)  # (N, 2, S, S)
    healthy = (warped[:, 0] > BRAIN_THRESHOLD) & (warped[:, 1] < 0.05)
    return _scanner(warped[:, 0], healthy, config, site, rng), levels, visible


def _assign(config: BuiltinConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per subject: site (0 = A, 1 = B) and lesion flag, in exact proportions."""
    rng = np.random.default_rng((config.seed, int(config.labelled)))
    n = config.n_subjects
    site = np.zeros(n, dtype=np.int64)
    site[rng.permutation(n)[: round(config.site_b_fraction * n)]] = 1
    lesion = np.zeros(n, dtype=bool)
    if config.labelled:
        for s in (0, 1):
            members = rng.permutation(np.flatnonzero(site == s))
            lesion[members[: round(config.lesion_prevalence[s] * len(members))]] = True
    return site, lesion


def _build_arrays(config: BuiltinConfig) -> dict[str, np.ndarray]:
    """Generate every subject and quantise: the arrays that the cache file stores.

    Images are stored as uint8, ``q = round((x + 1) * 127.5)``: steps of 2/255 in
    ``[-1, 1]``, well below the noise level; both build paths decode the same arrays.
    """
    site, lesion = _assign(config)
    images, levels, visible = [], [], []
    for i in range(config.n_subjects):
        x, lv, vis = _subject(config, i, int(site[i]), bool(lesion[i]))
        images.append(x)
        levels.append(lv)
        visible.append(vis)
    n = config.slices_per_subject
    quantised = np.round((np.concatenate(images) + 1.0) * 127.5).astype(np.uint8)
    labels = (
        np.where(np.concatenate(visible), 0, 1) if config.labelled else -np.ones(len(quantised))
    )
    return {
        "images": quantised,
        "labels": labels.astype(np.int64),
        "subject": np.repeat(np.arange(config.n_subjects), n),
        "level": np.concatenate(levels),
        "site": np.repeat(np.array(["A", "B"])[site], n),
    }


def _to_dataset(arrays: dict[str, np.ndarray], config: BuiltinConfig) -> MedicalImageDataset:
    """Decode stored arrays into a :class:`MedicalImageDataset` (the one path for both)."""
    q = arrays["images"]
    expected = (config.n_subjects * config.slices_per_subject, config.image_size, config.image_size)
    if q.dtype != np.uint8 or q.shape != expected:
        raise ValueError(f"stored images are {q.dtype} {q.shape}, expected uint8 {expected}")
    images = torch.from_numpy(q.astype(np.float32))[:, None] / 127.5 - 1.0
    meta = [
        SliceMeta(SOURCE, f"vs-{s:04d}", int(k), {"site": str(g)})
        for s, k, g in zip(arrays["subject"], arrays["level"], arrays["site"], strict=True)
    ]
    classes = list(CLASSES) if config.labelled else []
    return MedicalImageDataset(images, torch.from_numpy(arrays["labels"]), meta, classes)


def build_builtin(config: BuiltinConfig) -> MedicalImageDataset:
    """Build the built-in set from the template, without any cache.

    Args:
        config: what to generate; the same config gives bit-identical images.

    Returns:
        ``n_subjects * slices_per_subject`` images ``(1, S, S)`` in ``[-1, 1]``, ordered by
        subject then level; meta ``SliceMeta("builtin:mni152", "vs-0007", level,
        {"site": "A"})``; labels 0 = lesion, 1 = no_lesion (labelled) or -1.
    """
    return _to_dataset(_build_arrays(config), config)


def cache_file(config: BuiltinConfig, cache_dir: Path | None = None) -> Path:
    """Where :func:`load_builtin` keeps ``config``'s images (the name hashes everything)."""
    from medgan_utils.settings import data_home

    key = json.dumps(
        {
            "config": asdict(config),
            "version": BUILTIN_VERSION,
            "template": TEMPLATES["mni152_t1"][1],
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    kind = "labelled" if config.labelled else "unlabelled"
    folder = Path(cache_dir) if cache_dir is not None else data_home() / "builtin"
    return folder / f"mni152-{kind}-{config.image_size}px-v{BUILTIN_VERSION}-{digest}.npz"


def load_builtin(
    config: BuiltinConfig, cache_dir: Path | None = None, rebuild: bool = False
) -> MedicalImageDataset:
    """Load the built-in set from the on-disk cache, building and caching it when needed.

    Args:
        config: what to generate.
        cache_dir: cache folder; default ``medgan_utils.settings.data_home() / "builtin"``.
        rebuild: ignore an existing cache file and build again.

    Returns:
        The same dataset as ``build_builtin(config)``, exactly. A cache file that cannot be
        read is rebuilt with a warning; new files are written atomically (temp + rename).
    """
    path = cache_file(config, cache_dir)
    if path.exists() and not rebuild:
        try:
            with np.load(path, allow_pickle=False) as f:
                return _to_dataset({k: f[k] for k in f.files}, config)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            warnings.warn(f"{path}: unreadable cache ({err}); rebuilding", stacklevel=2)
    arrays = _build_arrays(config)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **cast(dict[str, Any], arrays))  # array names, never `allow_pickle`
    return _to_dataset(arrays, config)
