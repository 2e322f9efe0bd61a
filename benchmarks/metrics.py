"""Time the evaluation metrics: 2,000 real vs 2,000 generated images at 64 x 64.

Usage:
    python benchmarks/metrics.py                   # 2,000 vs 2,000, domain features
    python benchmarks/metrics.py -n 300 --repeat 1  # a quick run

Feature extraction and the statistics on the features are timed separately (best of
``--repeat``); the fake images come from the shipped generator when it is on disk, else
from a disjoint half of the real images. Timings vary with machine load.
"""

from __future__ import annotations

import argparse

import torch
from _common import print_table, timed

from medgan_utils.data.load import load_dataset
from medgan_utils.evaluation.evaluate import evaluate
from medgan_utils.evaluation.features import get_extractor
from medgan_utils.evaluation.memorization import memorization
from medgan_utils.evaluation.metrics import (
    diversity,
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from medgan_utils.gan.zoo import DEFAULT_MODEL, generate, list_models, load_generator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="images per set")
    parser.add_argument("--extractor", default="domain")
    parser.add_argument("--n-subjects", type=int, default=128, help="built-in real subjects")
    parser.add_argument("--repeat", type=int, default=3, help="best of N")
    args = parser.parse_args(argv)
    n = args.n

    real = load_dataset("builtin", 64, n_subjects=args.n_subjects).images
    if len(real) < 2 * n:
        raise SystemExit(f"need {2 * n} real images, have {len(real)}: raise --n-subjects")
    rows: list[tuple[str, float, int]] = []
    if DEFAULT_MODEL in list_models():
        G = load_generator(DEFAULT_MODEL)[0]
        fake, t = timed(lambda: generate(G, n, seed=0), args.repeat)
        rows.append((f"generate {n} ({DEFAULT_MODEL})", t, n))
        fake_name = DEFAULT_MODEL
    else:
        fake, fake_name = real[n : 2 * n], "real images (no shipped generator)"
    real, other = real[:n], real[n : 2 * n]  # other: a disjoint real set for the floors

    ext = get_extractor(args.extractor)
    f_real, t = timed(lambda: ext(real), args.repeat)
    rows.append((f"{ext.name} features, {n} images", t, n))
    f_fake = ext(fake)
    fid, t = timed(lambda: frechet_distance(f_real, f_fake), args.repeat)
    rows.append((f"FID ({ext.dim}-d)", t, 2 * n))
    (kid, _), t = timed(lambda: kernel_distance(f_real, f_fake), args.repeat)
    rows.append(("KID (100 subsets of 1000)", t, 2 * n))
    (p, r), t = timed(lambda: precision_recall(f_real, f_fake), args.repeat)
    rows.append(("precision + recall (k=3)", t, 2 * n))
    _, t = timed(lambda: diversity(fake), args.repeat)
    rows.append(("diversity (500 MS-SSIM pairs)", t, n))
    _, t = timed(lambda: memorization(fake, real), args.repeat)
    rows.append((f"memorization ({n} vs {n} train)", t, n))
    report, t = timed(lambda: evaluate(real, fake, n=n // 2, extractor=ext), 1)
    rows.append((f"evaluate() end to end, n={n // 2}", t, 2 * n))

    print(
        f"{n} real (built-in, 64 px) vs {n} {fake_name}; extractor {ext.name}; "
        f"torch threads {torch.get_num_threads()}; best of {args.repeat}"
    )
    f_other = ext(other)
    floors = (
        frechet_distance(f_real, f_other),
        kernel_distance(f_real, f_other)[0],
        *precision_recall(f_real, f_other),
    )
    print(
        f"FID {fid:.2f}  KID {kid:.4f}  precision {p:.3f}  recall {r:.3f}  (real-vs-real: "
        "FID {:.2f}  KID {:.4f}  precision {:.3f}  recall {:.3f})".format(*floors)
    )
    print()
    print_table(
        ["step", "time", "images/s"],
        [[name, f"{t:.3f} s", f"{count / t:,.0f}"] for name, t, count in rows],
    )


if __name__ == "__main__":
    main()
