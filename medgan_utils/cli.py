"""The ``medgan`` command line.

    medgan data info PATH|builtin|builtin-labelled [--image-size 64] [--on-error skip] [--json]
    medgan train --data builtin|PATH --image-size 64 --epochs N --out runs/NAME [--resume]
    medgan generate --model NAME|PATH -n 16 --seed 0 --out DIR

Every command prints a one-line error naming the bad file or value (exit status 2)
instead of a traceback when its input is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .data import SUPPORTED_SIZES, describe, load_dataset
from .readers import DataError
from .zoo import DEFAULT_MODEL

__all__ = ["main", "build_parser"]


def _data_info(args: argparse.Namespace) -> int:
    options = {}
    if args.axis:
        options["axis"] = args.axis
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(args.source, args.image_size, on_error=args.on_error, **options)
    info = describe(ds, source=args.source)
    if args.json:
        print(json.dumps({**asdict(info), "warnings": [str(w.message) for w in caught]}, indent=2))
    else:
        print(info.to_text())
        for w in caught:
            print(f"warning     {w.message}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .models import DCGANConfig
    from .runs import train_run
    from .train import TrainConfig

    data_options = {"n_subjects": args.n_subjects} if args.n_subjects else {}
    num_classes = 0
    if args.conditional:
        from .data import load_dataset

        num_classes = len(load_dataset(args.data, args.image_size, **data_options).classes)
        if num_classes < 2:
            raise ValueError(f"--conditional needs a labelled dataset; {args.data} has no classes")
    model = DCGANConfig(
        image_size=args.image_size,
        width=args.width,
        latent_dim=args.latent_dim,
        num_classes=num_classes,
        spectral_norm=args.spectral_norm,
        norm=args.norm or ("layer" if args.loss == "wgan-gp" else "batch"),
    )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        loss=args.loss,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        n_critic=args.n_critic or (5 if args.loss == "wgan-gp" else 1),
        seed=args.seed,
        precision=args.precision,
        device=args.device,
    )
    trainer = train_run(
        args.data,
        args.out,
        model,
        config,
        resume=args.resume,
        progress=not args.quiet,
        data_options=data_options,
        command=["medgan", *args.argv],
    )
    last = trainer.history[-1] if trainer.history else {}
    print(
        f"trained {trainer.epoch} epochs into {args.out}: "
        + ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k != "epoch")
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from .zoo import export_pngs, generate, load_generator

    G, meta = load_generator(args.model)
    images = generate(G, args.n, seed=args.seed, labels=args.label)
    name = Path(str(args.model)).name if Path(str(args.model)).exists() else str(args.model)
    files = export_pngs(images, args.out, model=name, seed=args.seed)
    print(f"wrote {len(files) - 1} images and grid.png to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medgan", description="Synthetic medical images with GANs: data, models, metrics."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="inspect medical image datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    info = data_commands.add_parser(
        "info", help="print counts, sizes, classes, subjects, groups and skipped files"
    )
    info.add_argument("source", help="a file or folder, or 'builtin' / 'builtin-labelled'")
    info.add_argument("--image-size", type=int, default=64, choices=SUPPORTED_SIZES)
    info.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="skip",
        help="skip unreadable files and report them (default), or stop at the first",
    )
    info.add_argument("--axis", choices=("axial", "coronal", "sagittal"), help="NIfTI slicing axis")
    info.add_argument("--json", action="store_true", help="print JSON for machines")
    info.set_defaults(func=_data_info)

    train = commands.add_parser("train", help="train a DCGAN into a run folder")
    train.add_argument("--data", required=True, help="'builtin', 'builtin-labelled' or a path")
    train.add_argument("--image-size", type=int, default=64, choices=SUPPORTED_SIZES)
    train.add_argument("--epochs", type=int, required=True)
    train.add_argument("--out", required=True, help="run folder, e.g. runs/brain64")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--loss", choices=("bce", "hinge", "wgan-gp"), default="bce")
    train.add_argument("--lr-g", type=float, default=2e-4)
    train.add_argument("--lr-d", type=float, default=2e-4)
    train.add_argument("--n-critic", type=int, help="D steps per G step (default 1; 5 for wgan-gp)")
    train.add_argument("--width", type=int, default=64, help="channel multiplier (ngf = ndf)")
    train.add_argument("--latent-dim", type=int, default=100)
    train.add_argument(
        "--norm",
        choices=("batch", "layer", "instance", "none"),
        help="discriminator norm (default batch; layer for wgan-gp)",
    )
    train.add_argument("--spectral-norm", action="store_true")
    train.add_argument("--conditional", action="store_true", help="condition on class labels")
    train.add_argument("--n-subjects", type=int, help="virtual subjects of the built-in set")
    train.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    train.add_argument("--device", default="auto")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    gen = commands.add_parser("generate", help="generate images with a trained generator")
    gen.add_argument("--model", default=DEFAULT_MODEL, help="shipped model name or run folder")
    gen.add_argument("-n", type=int, default=16, help="number of images")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--label", type=int, help="class index for a conditional generator")
    gen.add_argument("--out", required=True, help="output folder (must be new or empty)")
    gen.set_defaults(func=_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in run.json
    try:
        return int(args.func(args))
    except (DataError, ValueError, FileNotFoundError) as err:
        print(f"medgan: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
