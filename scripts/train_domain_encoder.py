"""Train the domain encoder shipped in ``medgan_utils/pretrained/domain_encoder``.

Usage:
    python scripts/train_domain_encoder.py                     # the shipped encoder
    python scripts/train_domain_encoder.py --quick --out /tmp/enc   # a tiny run (seconds)

Data: the labelled built-in brain-MRI set (128 virtual subjects x 32 axial slices, 64 px),
split by subject 70/15/15 with ``subject_split``. Tasks (linear heads on the pooled
features): axial level (regression), lesion vs no lesion, site B vs A, and which synthetic
artefact, if any, was applied (clean, noise, blur, checkerboard, splice). Validation numbers
on the held-out test subjects go into ``encoder.json``; the model card quotes them.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from medgan_utils.data.dataset import subject_split
from medgan_utils.data.load import load_dataset
from medgan_utils.evaluation.features import (
    DOMAIN_ENCODER_DIR,
    DomainEncoder,
    DomainEncoderConfig,
    PixelFeatures,
    save_domain_encoder,
)
from medgan_utils.evaluation.metrics import frechet_distance

CORRUPTIONS = ("clean", "noise", "blur", "checkerboard", "splice")


@dataclass(frozen=True)
class EncoderTrainConfig:
    """Everything that decides the trained weights (with the torch version and threads)."""

    n_subjects: int = 128
    data_seed: int = 0  # BuiltinConfig.seed of the training data
    epochs: int = 14
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    corrupt_share: float = 0.5  # share of each batch given a random artefact
    seed: int = 0


def corrupt(x: torch.Tensor, kinds: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Apply artefact ``kinds[i]`` (index into :data:`CORRUPTIONS`) to image ``x[i]``.

    Mild, GAN-like defects: Gaussian noise (sigma 0.03-0.12), blur (sigma 0.6-1.3 px),
    a +-(0.02-0.08) period-2 checkerboard (transposed-convolution artefact), and a splice of
    the top of one slice onto the bottom of another (globally incoherent anatomy).

    Args:
        x: ``(N, 1, S, S)`` in ``[-1, 1]``; kinds: ``(N,)`` int64.

    Returns:
        ``(N, 1, S, S)`` in ``[-1, 1]``.
    """
    n, _, s, _ = x.shape
    u = torch.rand(n, 1, 1, 1, generator=g)
    out = x.clone()
    noisy = x + (0.03 + 0.09 * u) * torch.randn(x.shape, generator=g)
    sigma = float(0.6 + 0.7 * torch.rand(1, generator=g))
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    blurred = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7))
    blurred = F.conv2d(F.pad(blurred, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1))
    ii = torch.arange(s)
    checker = ((ii[:, None] + ii[None, :]) % 2 * 2 - 1).float()
    checkered = x + (0.02 + 0.06 * u) * checker
    cut = int(torch.randint(s // 3, 2 * s // 3, (1,), generator=g))
    partner = x[torch.randperm(n, generator=g)]  # a random other slice (usually)
    spliced = torch.cat([x[:, :, :cut], partner[:, :, cut:]], dim=2)
    for kind, img in enumerate((x, noisy, blurred, checkered, spliced)):
        mask = kinds == kind
        out[mask] = img[mask]
    return out.clamp(-1, 1)


def _targets(ds, idx: np.ndarray) -> dict[str, torch.Tensor]:
    idx_t = torch.from_numpy(idx)
    return {
        "image": ds.images[idx_t],
        "level": torch.tensor([ds.meta[i].slice_index for i in idx], dtype=torch.float32),
        "lesion": (ds.labels[idx_t] == 0).float(),  # class 0 is "lesion"
        "site": torch.tensor([ds.meta[i].groups["site"] == "B" for i in idx], dtype=torch.float32),
    }


def _loss(
    model: DomainEncoder, batch: dict[str, torch.Tensor], kinds: torch.Tensor, pos_weight: float
) -> torch.Tensor:
    """Sum of the four task losses; anatomy targets only where the slice is intact."""
    c = model.config
    out = model(batch["image"])
    intact = kinds != CORRUPTIONS.index("splice")
    level = (batch["level"] - c.level_center) / c.level_scale
    loss = F.cross_entropy(out["corruption"], kinds)
    loss = loss + F.mse_loss(out["level"][intact], level[intact])
    loss = loss + F.binary_cross_entropy_with_logits(
        out["lesion"][intact], batch["lesion"][intact], pos_weight=torch.tensor(pos_weight)
    )
    return loss + F.binary_cross_entropy_with_logits(out["site"][intact], batch["site"][intact])


def _auc(y: torch.Tensor, score: torch.Tensor) -> float:
    """ROC AUC, NaN when ``y`` has one class only (tiny splits)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < float(y.mean()) < 1 else float("nan")


def _balanced_accuracy(y: torch.Tensor, pred: torch.Tensor) -> float:
    """Mean of sensitivity and specificity (bool tensors), NaN when ``y`` has one class."""
    if y.all() or not y.any():
        return float("nan")
    return float((pred[y].float().mean() + (~pred[~y]).float().mean()) / 2)


@torch.no_grad()
def validate(model: DomainEncoder, data: dict[str, torch.Tensor], seed: int) -> dict[str, float]:
    """Head metrics on held-out subjects, and FID sensitivity to each artefact."""
    model.eval()
    c = model.config
    x = data["image"]
    heads = [model(x[i : i + 512]) for i in range(0, len(x), 512)]
    out = {k: torch.cat([h[k] for h in heads]) for k in ("level", "lesion", "site")}
    level = out["level"] * c.level_scale + c.level_center
    g = torch.Generator().manual_seed(seed)
    kinds = torch.randint(len(CORRUPTIONS), (len(x),), generator=g)
    xc = corrupt(x, kinds, g)
    pred = torch.cat([model(xc[i : i + 512])["corruption"] for i in range(0, len(x), 512)])
    result = {
        "n_images": len(x),
        "level_mae_mm": float((level - data["level"]).abs().mean()),
        "level_mae_mm_chance": float((data["level"] - data["level"].median()).abs().mean()),
        "lesion_auc": _auc(data["lesion"], out["lesion"]),
        "lesion_balanced_accuracy": _balanced_accuracy(data["lesion"] > 0.5, out["lesion"] > 0),
        "lesion_share": float(data["lesion"].mean()),
        "site_auc": _auc(data["site"], out["site"]),
        "artefact_accuracy": float((pred.argmax(1) == kinds).float().mean()),
    }
    for kind, name in enumerate(CORRUPTIONS):  # recall of each artefact class
        hit = pred.argmax(1)[kinds == kind] == kind
        result[f"artefact_recall_{name}"] = float(hit.float().mean()) if len(hit) else float("nan")
    # FID between two halves of the held-out images, clean vs one half corrupted.
    half = len(x) // 2
    a, b = x[:half], x[half : 2 * half]
    for name, ext in (("domain", model.features), ("pixels16", PixelFeatures(16))):
        if half <= 256:  # too few images for a covariance (the --quick run)
            break
        fa = ext(a).double()
        result[f"fid_{name}_clean"] = frechet_distance(fa, ext(b).double())
        for kind in range(1, len(CORRUPTIONS)):
            bc = corrupt(b, torch.full((len(b),), kind), torch.Generator().manual_seed(seed))
            result[f"fid_{name}_{CORRUPTIONS[kind]}"] = frechet_distance(fa, ext(bc).double())
    return result


def train(config: EncoderTrainConfig, out: Path, quiet: bool = False) -> dict[str, object]:
    """Train, validate on held-out subjects, save into ``out``; return the saved info."""
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    ds = load_dataset("builtin-labelled", 64, n_subjects=config.n_subjects, seed=config.data_seed)
    train_idx, val_idx, test_idx = subject_split(ds.subjects, (0.7, 0.15, 0.15), seed=config.seed)
    tr, va, te = (_targets(ds, i) for i in (train_idx, val_idx, test_idx))
    pos_weight = float((1 - tr["lesion"].mean()) / tr["lesion"].mean().clamp(min=1e-3))
    model = DomainEncoder(DomainEncoderConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(train_idx) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=steps)
    g = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        model.train()
        order, total = torch.randperm(len(train_idx), generator=g), 0.0
        for s in range(0, len(order), config.batch_size):
            batch = {k: v[order[s : s + config.batch_size]] for k, v in tr.items()}
            x = batch["image"]
            # augmentation: left-right flip (the template is near-symmetric), +-3 px shift
            if torch.rand(1, generator=g) < 0.5:
                x = x.flip(-1)
            dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=g))
            x = torch.roll(x, (dy, dx), dims=(2, 3))
            kinds = torch.randint(1, len(CORRUPTIONS), (len(x),), generator=g)
            kinds[torch.rand(len(x), generator=g) >= config.corrupt_share] = 0
            batch["image"] = corrupt(x, kinds, g)
            loss = _loss(model, batch, kinds, pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
        if not quiet:
            val = validate(model, va, seed=1)
            print(
                f"epoch {epoch + 1:2d}  loss {total / len(order):.3f}  val level MAE "
                f"{val['level_mae_mm']:.1f} mm  lesion AUC {val['lesion_auc']:.3f}  site AUC "
                f"{val['site_auc']:.3f}  artefact acc {val['artefact_accuracy']:.3f}",
                flush=True,
            )
    model.eval()
    info = {
        "train_config": asdict(config),
        "data": f"builtin-labelled, n_subjects={config.n_subjects}, seed={config.data_seed}, 64 px",
        "split": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
        "corruptions": list(CORRUPTIONS),
        "val": validate(model, va, seed=1),
        "test": validate(model, te, seed=2),
        "train_time_s": round(time.perf_counter() - start, 1),
        "hardware": f"{torch.get_num_threads()} torch threads; torch {torch.__version__}",
        "command": "python scripts/train_domain_encoder.py",
    }
    save_domain_encoder(model, out, info)
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOMAIN_ENCODER_DIR)
    parser.add_argument("--epochs", type=int, default=EncoderTrainConfig.epochs)
    parser.add_argument("--n-subjects", type=int, default=EncoderTrainConfig.n_subjects)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="4 subjects, 1 epoch")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    config = EncoderTrainConfig(
        n_subjects=4 if args.quick else args.n_subjects,
        epochs=1 if args.quick else args.epochs,
        seed=args.seed,
    )
    info = train(config, args.out, quiet=args.quiet)
    print(f"saved to {args.out} in {info['train_time_s']} s")
    if args.out.resolve() == DOMAIN_ENCODER_DIR.resolve():
        print(
            "shipped weights rewritten: record their SHA-256 with `python "
            "scripts/update_checksums.py --update` (the loaders refuse them until then) and "
            "commit them with registry.py"
        )
    for split in ("val", "test"):
        print(split, {k: round(v, 3) for k, v in info[split].items()})


if __name__ == "__main__":
    main()
