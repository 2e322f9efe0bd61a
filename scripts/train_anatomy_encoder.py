"""Train the anatomy encoder shipped in ``medgan_utils/pretrained/anatomy_encoder``.

Usage:
    python scripts/train_anatomy_encoder.py                        # the shipped encoder
    python scripts/train_anatomy_encoder.py --method contrastive --out /tmp/ssl  # the other
    python scripts/train_anatomy_encoder.py --quick --out /tmp/enc  # a tiny run (seconds)

The second feature space of :func:`medgan_utils.evaluate`, beside the domain encoder
(``scripts/train_domain_encoder.py``). The domain encoder also learnt to tell which synthetic
artefact (noise, blur, checkerboard, splice) a slice carries, so GAN texture alone puts
generated slices far from real ones there. This encoder is never shown an artefact: same
data (the labelled built-in set, 128 virtual subjects, split by subject 70/15/15 with
``subject_split``), same network, same flip/shift augmentation, and one of two objectives:

- ``supervised`` (the shipped one): linear heads for axial level and lesion, on clean slices;
  no artefact head and no corrupted inputs. The site head is fitted afterwards as a linear
  probe on the frozen features (``--site-loss``: trained for site too).
- ``contrastive``: SimCLR (Chen et al., 2020): two views of each slice (flip, shift,
  gamma/contrast, cut-out; no noise, blur or other GAN artefact) pulled together against the
  rest of the batch (NT-Xent loss, projection MLP dropped afterwards); level, lesion and
  site heads are then fitted as linear probes on the frozen features.

Why this one: the three candidates were trained with this script (the commands in their
``encoder.json``: the default, ``--site-loss``, ``--method contrastive``) and measured on
the held-out validation subjects, FID / precision of 304 slices against 304 others, clean
(the floor) or given an artefact ("mild": the domain encoder's training artefacts), with
the level error and the lesion ROC AUC of the heads::

    candidate                floor      mild noise noise 0.2  blur 1 px  splice     level  lesion
    level + lesion (shipped) 0.72/0.89  0.85/0.87  4.2/0.77   2.4/0.74   1.1/0.76   2.2 mm 0.98
    + site (--site-loss)     2.6/0.81   6.6/0.37   48.9/0.60  3.5/0.46   3.2/0.43   2.1 mm 0.98
    contrastive, 15 epochs   0.64/0.55  3.9/0.21   45.0/0.00  16.3/0.00  0.64/0.28  4.8 mm 0.76

- Trained for site, the space is dominated by it: the built-in set simulates sites by their
  noise level and gamma, so noise moves a slice as a change of site does, and the floor
  depends on which subjects a split drew (the shipped DCGAN's real set, 5 splits: floor
  3.0 +- 2.4 against 0.10 +- 0.05 without the site loss). A linear probe still reads the
  site from the shipped features (AUC 1.0).
- The contrastive space learnt texture: without noise or blur among its augmentations, the
  easiest thing two views share is their pixels' fine structure, so a plainly blurred or
  noised set falls wholly outside the real manifold (precision 0, as in the domain space),
  while level and lesion are read worse (4.8 mm, AUC 0.76) and even two real halves reach a
  precision of only 0.55.
- The shipped space has the smallest floor with the least spread, reads level and lesion as
  well as the domain encoder, and moves far from the floor for visible blur (3x) and noise
  (6x) while it is nearly blind to the mild noise and checkerboards the domain encoder was
  trained to spot: the complement of the domain space, as meant.

Training time on 2 CPU cores shared with other jobs: 15-30 minutes for 14 epochs
(``train_time_s`` in ``encoder.json``; the contrastive candidate took 51 minutes).

Validation numbers on the held-out test subjects, including the sanity checks (real-vs-real
floor, and the distance to noised, blurred, checkerboarded and spliced copies of real
slices, in this space and in the domain space), go into ``encoder.json``; the model card
quotes them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# The scripts run as ``python scripts/NAME.py``, so this folder is on ``sys.path``.
from train_domain_encoder import CORRUPTIONS, _auc, _balanced_accuracy, _targets, corrupt

from medgan_utils.data.dataset import subject_split
from medgan_utils.data.load import load_dataset
from medgan_utils.evaluation.features import (
    ANATOMY_ENCODER_DIR,
    DomainEncoder,
    DomainEncoderConfig,
    load_domain_encoder,
    save_domain_encoder,
)
from medgan_utils.evaluation.metrics import frechet_distance, precision_recall
from medgan_utils.weights import load_state

METHODS = ("supervised", "contrastive")
DEFAULT_EPOCHS = {"supervised": 14, "contrastive": 15}


@dataclass(frozen=True)
class AnatomyTrainConfig:
    """Everything that decides the trained weights (with the torch version and threads)."""

    method: str = "supervised"
    n_subjects: int = 128
    data_seed: int = 0  # BuiltinConfig.seed of the training data
    epochs: int = 14  # DEFAULT_EPOCHS of the method in the command line
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2  # NT-Xent (contrastive only)
    site_loss: bool = False  # supervised: train for site too (default: a linear probe after)
    seed: int = 0
    verbose: bool = False  # print the loss after each epoch (not in info: no effect)


def _flip_shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The domain encoder's augmentation: one left-right flip and +-3 px shift per batch."""
    if torch.rand(1, generator=g) < 0.5:
        x = x.flip(-1)
    dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=g))
    return torch.roll(x, (dy, dx), dims=(2, 3))


def _view(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One SimCLR view per image ``(N, 1, S, S)`` in ``[-1, 1]``: random flip, +-6 px
    integer shift, gamma 0.7-1.4, contrast 0.8-1.2, brightness +-0.1 and a 16 px cut-out.

    Integer shifts only (no resampling, which would blur) and no noise: nothing here looks
    like a GAN artefact, so the encoder is never taught to ignore or spot one.
    """
    n, _, s, _ = x.shape
    out = torch.empty_like(x)
    flips = torch.rand(n, generator=g) < 0.5
    shifts = torch.randint(-6, 7, (n, 2), generator=g)
    for i in range(n):  # per-image flip and shift: a loop over <= 128 small images
        xi = x[i].flip(-1) if flips[i] else x[i]
        out[i] = torch.roll(xi, (int(shifts[i, 0]), int(shifts[i, 1])), dims=(1, 2))
    u = torch.rand(n, 3, 1, 1, generator=g)
    gamma = torch.exp(math.log(0.7) + (math.log(1.4) - math.log(0.7)) * u[:, :1])
    x01 = ((out + 1) / 2).clamp(0, 1) ** gamma
    x01 = (x01 - 0.5) * (0.8 + 0.4 * u[:, 1:2]) + 0.5 + (u[:, 2:3] - 0.5) * 0.2
    out = (x01 * 2 - 1).clamp(-1, 1)
    cy, cx = (torch.randint(0, s - 16, (n,), generator=g) for _ in range(2))
    for i in range(n):
        out[i, :, cy[i] : cy[i] + 16, cx[i] : cx[i] + 16] = -1.0
    return out


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss: each view's partner among the other ``2N - 1`` views, cross-entropy.

    Args:
        z1, z2: ``(N, P)`` projections of the two views of the same ``N`` images.
    """
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    n = len(z1)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def _supervised_loss(
    model: DomainEncoder, batch: dict[str, torch.Tensor], pos_weight: float, site: bool = True
) -> torch.Tensor:
    """Level (MSE), lesion and (with ``site``) site (BCE): the domain encoder's loss without
    the artefacts."""
    c = model.config
    out = model(batch["image"])
    loss = F.mse_loss(out["level"], (batch["level"] - c.level_center) / c.level_scale)
    loss = loss + F.binary_cross_entropy_with_logits(
        out["lesion"], batch["lesion"], pos_weight=torch.tensor(pos_weight)
    )
    if not site:
        return loss
    return loss + F.binary_cross_entropy_with_logits(out["site"], batch["site"])


@torch.no_grad()
def _features(model: DomainEncoder, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model.features(x[i : i + 512]) for i in range(0, len(x), 512)]).double()


@torch.no_grad()
def fit_probes(
    model: DomainEncoder,
    data: dict[str, torch.Tensor],
    pos_weight: float,
    heads: tuple[str, ...] = ("level", "lesion", "site"),
) -> None:
    """Fit the ``heads`` (level, lesion, site) as linear probes on the frozen features.

    Level: least squares (closed form); lesion and site: scikit-learn's logistic regression
    (lesion weighted by the class ratio, as in supervised training).
    """
    from sklearn.linear_model import LogisticRegression

    c = model.config
    f = _features(model, data["image"])
    ones = torch.ones(len(f), 1, dtype=f.dtype)
    level = ((data["level"] - c.level_center) / c.level_scale).double()
    if "level" in heads:
        coef = torch.linalg.lstsq(torch.cat([f, ones], 1), level[:, None]).solution[:, 0]
        model.level.weight.copy_(coef[:-1][None].float())
        model.level.bias.copy_(coef[-1:].float())
    for head, y, w in (("lesion", data["lesion"], pos_weight), ("site", data["site"], 1.0)):
        if head not in heads or not 0 < float(y.mean()) < 1:  # one class (tiny runs): head 0
            continue
        clf = LogisticRegression(max_iter=5000, class_weight={0: 1.0, 1: w})
        clf.fit(f.numpy(), y.numpy() > 0.5)
        layer = getattr(model, head)
        layer.weight.copy_(torch.from_numpy(clf.coef_).float())
        layer.bias.copy_(torch.from_numpy(clf.intercept_).float())


@torch.no_grad()
def sensitivity(
    ext: Any, a: torch.Tensor, b: torch.Tensor, seed: int, k: int = 3
) -> dict[str, float]:
    """FID and precision of real half ``b``, clean and given each artefact, against ``a``.

    Args:
        ext: images ``(N, 1, S, S)`` -> features ``(N, D)``.
        a, b: two disjoint sets of real slices of the same size.

    Returns:
        ``fid_clean`` (the real-vs-real floor), ``fid_<artefact>`` for the domain encoder's
        mild training artefacts (noise sigma 0.03-0.12, blur sigma 0.6-1.3 px, ...), and
        for a plainly visible blur (``blur_1px``: sigma 1 px) and noise (``noise_0.2``:
        sigma 0.2, a tenth of the range); ``precision_*`` the share of ``b``'s slices
        inside ``a``'s k-NN manifold.
    """
    fa = ext(a).double()
    g = torch.Generator().manual_seed(seed)
    variants = {"clean": b, "blur_1px": gaussian_blur(b, 1.0)}
    variants["noise_0.2"] = (b + 0.2 * torch.randn(b.shape, generator=g)).clamp(-1, 1)
    for kind, name in enumerate(CORRUPTIONS[1:], start=1):
        g = torch.Generator().manual_seed(seed)
        variants[name] = corrupt(b, torch.full((len(b),), kind), g)
    out: dict[str, float] = {}
    for name, x in variants.items():
        fb = ext(x).double()
        out[f"fid_{name}"] = frechet_distance(fa, fb)
        out[f"precision_{name}"] = precision_recall(fa, fb, k)[0]
    return out


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, 1, S, S)`` blurred by a separable 7-tap Gaussian (replicate padding)."""
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7))
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1))


@torch.no_grad()
def validate(model: DomainEncoder, data: dict[str, torch.Tensor], seed: int) -> dict[str, Any]:
    """Head metrics on held-out subjects, and how far artefacts move real slices in this
    space and in the shipped domain encoder's (FID, precision; halves of the set)."""
    model.eval()
    c = model.config
    x = data["image"]
    heads = [model(x[i : i + 512]) for i in range(0, len(x), 512)]
    out = {k: torch.cat([h[k] for h in heads]) for k in ("level", "lesion", "site")}
    level = out["level"] * c.level_scale + c.level_center
    result: dict[str, Any] = {
        "n_images": len(x),
        "level_mae_mm": float((level - data["level"]).abs().mean()),
        "level_mae_mm_chance": float((data["level"] - data["level"].median()).abs().mean()),
        "lesion_auc": _auc(data["lesion"], out["lesion"]),
        "lesion_balanced_accuracy": _balanced_accuracy(data["lesion"] > 0.5, out["lesion"] > 0),
        "lesion_share": float(data["lesion"].mean()),
        "site_auc": _auc(data["site"], out["site"]),
    }
    half = len(x) // 2
    if half > c.feature_dim:  # enough images for a covariance (not the --quick run)
        a, b = x[:half], x[half : 2 * half]
        result["halves"] = half
        result["anatomy"] = sensitivity(lambda v: _features(model, v), a, b, seed)
        domain = load_domain_encoder()
        result["domain"] = sensitivity(lambda v: _features(domain, v), a, b, seed)
    return result


def _progress(losses: list[float], config: AnatomyTrainConfig) -> None:
    if config.verbose:
        print(f"epoch {len(losses):2d}/{config.epochs}  loss {losses[-1]:.3f}", flush=True)


def _train_supervised(
    model: DomainEncoder,
    tr: dict[str, torch.Tensor],
    config: AnatomyTrainConfig,
    g: torch.Generator,
) -> list[float]:
    pos_weight = float((1 - tr["lesion"].mean()) / tr["lesion"].mean().clamp(min=1e-3))
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = len(tr["image"])
    steps = config.epochs * math.ceil(n / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=steps)
    losses = []
    for _ in range(config.epochs):
        model.train()
        order, total = torch.randperm(n, generator=g), 0.0
        for s in range(0, n, config.batch_size):
            batch = {k: v[order[s : s + config.batch_size]] for k, v in tr.items()}
            batch["image"] = _flip_shift(batch["image"], g)
            loss = _supervised_loss(model, batch, pos_weight, config.site_loss)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(batch["image"])
        losses.append(total / n)
        _progress(losses, config)
    if not config.site_loss:
        fit_probes(model, tr, pos_weight, heads=("site",))
    return losses


def _train_contrastive(
    model: DomainEncoder,
    tr: dict[str, torch.Tensor],
    config: AnatomyTrainConfig,
    g: torch.Generator,
) -> list[float]:
    d = model.config.feature_dim
    projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 64))
    params = [*model.body.parameters(), *projector.parameters()]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    n = len(tr["image"])
    batch_size = min(config.batch_size, n)
    steps = config.epochs * (n // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=max(1, steps))
    losses = []
    for _ in range(config.epochs):
        model.train()
        order, total = torch.randperm(n, generator=g), 0.0
        for s in range(0, n - batch_size + 1, batch_size):  # full batches
            x = tr["image"][order[s : s + batch_size]]
            z = projector(model.features(torch.cat([_view(x, g), _view(x, g)])))
            loss = nt_xent(z[: len(x)], z[len(x) :], config.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
        losses.append(total / (n - n % batch_size))
        _progress(losses, config)
    pos_weight = float((1 - tr["lesion"].mean()) / tr["lesion"].mean().clamp(min=1e-3))
    fit_probes(model, tr, pos_weight)
    return losses


def train(config: AnatomyTrainConfig, out: Path, quiet: bool = False) -> dict[str, Any]:
    """Train, validate on held-out subjects, save into ``out``; return the saved info."""
    if config.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {config.method!r}")
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    ds = load_dataset("builtin-labelled", 64, n_subjects=config.n_subjects, seed=config.data_seed)
    train_idx, val_idx, test_idx = subject_split(ds.subjects, (0.7, 0.15, 0.15), seed=config.seed)
    tr, va, te = (_targets(ds, i) for i in (train_idx, val_idx, test_idx))
    model = DomainEncoder(DomainEncoderConfig(n_corruptions=0))  # no artefact head
    g = torch.Generator().manual_seed(config.seed)
    fit = _train_supervised if config.method == "supervised" else _train_contrastive
    losses = fit(model, tr, config, g)
    model.eval()
    train_time = round(time.perf_counter() - start, 1)
    if not quiet:
        print(f"trained in {train_time} s; loss per epoch {[round(v, 3) for v in losses]}")
    command = "python scripts/train_anatomy_encoder.py"
    if config.method != "supervised":
        command += f" --method {config.method}"
    if config.site_loss and config.method == "supervised":
        command += " --site-loss"
    if config.epochs != DEFAULT_EPOCHS[config.method]:
        command += f" --epochs {config.epochs}"
    info = {
        "train_config": {k: v for k, v in asdict(config).items() if k != "verbose"},
        "data": f"builtin-labelled, n_subjects={config.n_subjects}, seed={config.data_seed}, 64 px",
        "split": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
        "artefact_head": False,
        "loss_per_epoch": [round(v, 4) for v in losses],
        "val": validate(model, va, seed=1),
        "test": validate(model, te, seed=2),
        "train_time_s": train_time,
        "hardware": f"{torch.get_num_threads()} torch threads; torch {torch.__version__}",
        "command": command,
    }
    save_domain_encoder(model, out, info)
    return info


def revalidate(folder: Path) -> dict[str, Any]:
    """Re-measure a trained encoder (after adding a check): its val and test numbers are
    computed again on the split its ``encoder.json`` records and written back atomically;
    the weights and every other entry stay as they are."""
    import json

    from medgan_utils.settings import atomic_path

    meta_path = folder / "encoder.json"
    info = json.loads(meta_path.read_text())
    config = AnatomyTrainConfig(**info["train_config"])
    ds = load_dataset("builtin-labelled", 64, n_subjects=config.n_subjects, seed=config.data_seed)
    _, val_idx, test_idx = subject_split(ds.subjects, (0.7, 0.15, 0.15), seed=config.seed)
    # read directly: the shipped files' digests are recorded after this rewrite
    model = DomainEncoder(DomainEncoderConfig.from_dict(info["config"]))
    model = load_state(model, folder / "encoder.safetensors", "encoder weights").eval()
    info["val"] = validate(model, _targets(ds, val_idx), seed=1)
    info["test"] = validate(model, _targets(ds, test_idx), seed=2)
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=METHODS, default="supervised")
    parser.add_argument("--out", type=Path, default=ANATOMY_ENCODER_DIR)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--n-subjects", type=int, default=AnatomyTrainConfig.n_subjects)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--site-loss",
        action="store_true",
        help="supervised: train for site too (default: level and lesion; site a probe after)",
    )
    parser.add_argument(
        "--revalidate",
        action="store_true",
        help="re-measure the encoder in --out (val and test numbers) without training",
    )
    parser.add_argument("--quick", action="store_true", help="4 subjects, 1 epoch")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.revalidate:
        info = revalidate(args.out)
        print(f"re-measured {args.out}")
        for split in ("val", "test"):
            print(split, info[split])
        return
    config = AnatomyTrainConfig(
        method=args.method,
        n_subjects=4 if args.quick else args.n_subjects,
        epochs=1 if args.quick else (args.epochs or DEFAULT_EPOCHS[args.method]),
        batch_size=64 if args.method == "supervised" else 128,
        lr=3e-3 if args.method == "supervised" else 1e-3,
        seed=args.seed,
        site_loss=args.site_loss,
        verbose=not args.quiet,
    )
    info = train(config, args.out, quiet=args.quiet)
    print(f"saved to {args.out} in {info['train_time_s']} s")
    if args.out.resolve() == ANATOMY_ENCODER_DIR.resolve():
        print(
            "shipped weights rewritten: record their SHA-256 with `python "
            "scripts/update_checksums.py --update` (the loaders refuse them until then) and "
            "commit them with registry.py"
        )
    for split in ("val", "test"):
        print(split, info[split])


if __name__ == "__main__":
    sys.exit(main())
