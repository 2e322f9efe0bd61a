"""Time the lesion classifier: seconds per epoch and images/s for training and inference.

Usage:
    python benchmarks/finetune.py                       # 64 x 64, batch 32, width 16
    python benchmarks/finetune.py --steps 4 --repeat 1  # a quick run
    python benchmarks/finetune.py --device cuda          # where a GPU is lent

One "epoch" here is what :func:`medgan_utils.downstream.fit.fit_classifier` runs per epoch:
``steps_per_epoch`` (default 25) class-balanced batches, then the validation pass. Each
precision the device supports is timed (best of ``--repeat``); timings vary with load.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from _common import print_table, timed

from medgan_utils.downstream.classifier import ClassifierConfig, LesionClassifier, predict
from medgan_utils.downstream.fit import FitConfig, fit_classifier
from medgan_utils.settings import pick_device, pick_precision


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=25, help="training steps per epoch")
    parser.add_argument("--n-val", type=int, default=320, help="validation images per epoch")
    parser.add_argument("--n-infer", type=int, default=2048, help="images for inference")
    parser.add_argument("--repeat", type=int, default=3, help="best of N")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    config = ClassifierConfig(width=args.width)
    n_params = sum(p.numel() for p in LesionClassifier(config).parameters())
    g = torch.Generator().manual_seed(0)
    n_train = args.batch_size * args.steps
    x = torch.rand(n_train, 1, 64, 64, generator=g) * 2 - 1
    y = torch.arange(n_train) % 2
    xv = torch.rand(args.n_val, 1, 64, 64, generator=g) * 2 - 1
    yv = torch.arange(args.n_val) % 2
    xi = torch.rand(args.n_infer, 1, 64, 64, generator=g) * 2 - 1
    precisions = ["fp32"] + (["bf16"] if pick_precision(device) == torch.bfloat16 else [])
    precisions += ["fp16"] if device.type == "cuda" else []
    rows = []
    for precision in precisions:
        fit = FitConfig(
            epochs=1,
            batch_size=args.batch_size,
            steps_per_epoch=args.steps,
            min_epochs=1,
            precision=precision,
            device=str(device),
            youden=False,
        )

        def epoch(fit: FitConfig = fit) -> None:
            fit_classifier(LesionClassifier(config), (x, y), (xv, yv), fit)

        epoch()  # warm-up: first calls build oneDNN/cuDNN kernels
        _, t_epoch = timed(epoch, args.repeat)
        model = LesionClassifier(config).to(device)
        # predict() uses the device's autocast; fp32 is timed with it switched off
        infer = partial(_predict_fp32 if precision == "fp32" else predict, model, xi)
        infer()
        _, t_inf = timed(infer, args.repeat)
        rows.append(
            (
                precision,
                f"{t_epoch:.2f}",
                f"{(n_train + args.n_val) / t_epoch:,.0f}",
                f"{n_train / t_epoch:,.0f}",
                f"{args.n_infer / t_inf:,.0f}",
            )
        )
    print(
        f"LesionClassifier width {args.width} ({n_params / 1e6:.2f} M parameters), 64 x 64, "
        f"batch {args.batch_size}, {args.steps} steps + {args.n_val} validation images per "
        f"epoch; device {device}; torch threads {torch.get_num_threads()}; best of {args.repeat}"
    )
    header = ("precision", "s / epoch", "images/s (epoch)", "train images/s", "infer images/s")
    print_table(header, rows)


@torch.no_grad()
def _predict_fp32(model: LesionClassifier, images: torch.Tensor) -> torch.Tensor:
    device = next(model.parameters()).device
    model.eval()
    return torch.cat(
        [torch.sigmoid(model(images[i : i + 256].to(device))) for i in range(0, len(images), 256)]
    )


if __name__ == "__main__":
    main()
