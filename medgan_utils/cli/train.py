"""``medgan train`` and ``medgan generate`` (our models, or a catalog model through medigan)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medgan_utils.cli.models import CATALOG_HELP, add_unofficial_flag
from medgan_utils.cli.options import count, seed
from medgan_utils.errors import DataError
from medgan_utils.gan.zoo import DEFAULT_MODEL
from medgan_utils.settings import SUPPORTED_SIZES

if TYPE_CHECKING:
    from medgan_utils.gan.record import GeneratorRecord

__all__ = ["add_commands"]


def _train(args: argparse.Namespace) -> int:
    from medgan_utils.gan.distributed import World, join
    from medgan_utils.gan.models import DCGANConfig
    from medgan_utils.gan.runs import train_run
    from medgan_utils.gan.train import TrainConfig

    # Under torchrun, every process runs this; each fails alike on bad values, before any
    # process group or data exists: torchrun's environment, the batch, the device.
    world = World.from_env(required=args.distributed)
    world.per_rank_batch(args.batch_size)
    device = world.device(args.device)
    # reader options, passed on as keywords
    data_options: dict[str, Any] = {}
    if args.n_subjects is not None:
        data_options["n_subjects"] = args.n_subjects
    if args.data_seed is not None:
        data_options["seed"] = args.data_seed
    num_classes = 0
    if args.conditional:
        from medgan_utils.data.load import load_dataset

        num_classes = len(load_dataset(args.data, args.image_size, **data_options).classes)
        if num_classes < 2:
            raise ValueError(f"--conditional needs a labelled dataset; {args.data} has no classes")
    else:
        for flag in ("--conditional-norm", "--label-mismatch"):
            if getattr(args, flag[2:].replace("-", "_")):
                raise ValueError(f"{flag} works on class labels: add --conditional")
    model = DCGANConfig(
        image_size=args.image_size,
        width=args.width,
        latent_dim=args.latent_dim,
        num_classes=num_classes,
        spectral_norm=args.spectral_norm,
        norm=args.norm or ("layer" if args.loss == "wgan-gp" else "batch"),
        upsample=args.upsample,
        minibatch_std=args.minibatch_std,
        conditional_norm=args.conditional_norm,
    )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        loss=args.loss,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        n_critic=args.n_critic
        if args.n_critic is not None
        else (5 if args.loss == "wgan-gp" else 1),
        seed=args.seed,
        precision=args.precision,
        device=args.device,
        ema_decay=args.ema_decay,
        ema_warmup=args.ema_warmup,
        r1_gamma=args.r1_gamma,
        r1_interval=args.r1_interval,
        augment=args.augment,
        balance_classes=args.balance_classes,
        label_mismatch=args.label_mismatch,
    )
    with join(world, device) as world:
        trainer = train_run(
            args.data,
            args.out,
            model,
            config,
            resume=args.resume,
            progress=not args.quiet,
            data_options=data_options,
            command=["medgan", *args.argv],
            only_class=args.only_class,
            world=world,
        )
    if not world.is_main:
        return 0
    last = trainer.history[-1] if trainer.history else {}
    print(
        f"trained {trainer.epoch} epochs into {args.out}: "
        + ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k != "epoch")
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from medgan_utils.exports import export_pngs
    from medgan_utils.gan.zoo import generate, load_generator

    if _catalog_model(args):
        if args.format != "png":
            raise ValueError("--format dicom works with our models, not medigan's catalog")
        return _generate_catalog(args)
    G, meta = load_generator(args.model)
    images = generate(G, args.n, seed=args.seed, labels=_class_index(args.label, meta))
    name = Path(str(args.model)).name if Path(str(args.model)).exists() else str(args.model)
    if args.format == "dicom":
        from medgan_utils.exports import export_dicom

        files = export_dicom(images, args.out, model=name, seed=args.seed)
        print(f"wrote {len(files)} synthetic DICOM files (one series) to {args.out}")
        return 0
    files = export_pngs(images, args.out, model=name, seed=args.seed)
    print(f"wrote {len(files) - 1} images and grid.png to {args.out}")
    return 0


def _catalog_model(args: argparse.Namespace) -> bool:
    """Whether --model names a catalog model (not a shipped name or a run folder).

    The catalog is downloaded only for ids that look like medigan's (``00001_...``, ``5``);
    any other name falls through to the run-folder error.
    """
    import re

    from medgan_utils.gan.zoo import SHIPPED_MODELS
    from medgan_utils.hub.catalog import load_catalog

    model = str(args.model)
    if model in SHIPPED_MODELS or Path(model).exists():
        return False
    official = re.match(r"^\d{1,5}(_|$)", model) is not None
    catalog = load_catalog(args.catalog, download=official)
    try:
        args.model = catalog.resolve(model)
    except DataError:
        if official or args.catalog:
            raise
        return False
    args.loaded_catalog = catalog
    return True


def _model_args(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (numbers, lists, null)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--model-arg expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _generate_catalog(args: argparse.Namespace) -> int:
    from medgan_utils.hub.generate import generate

    extra = _model_args(args.model_arg)
    if args.label is not None:  # medigan takes a class index or its own condition value
        extra["condition"] = int(args.label) if args.label.isdigit() else args.label
    files = generate(
        args.model,
        args.n,
        args.seed,
        out=args.out,
        catalog=args.loaded_catalog,
        install_dependencies=args.install_dependencies,
        allow_unofficial=args.allow_unofficial_code,
        **extra,
    )
    print(f"wrote {len(files)} synthetic files from {args.model} (through medigan) to {args.out}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``medgan train`` and ``medgan generate`` (with its catalog options)."""
    train = commands.add_parser("train", help="train a DCGAN into a run folder")
    train.add_argument(
        "--data",
        required=True,
        help="'builtin', 'builtin-labelled', a path, or a public dataset's name (medgan data list)",
    )
    train.add_argument("--image-size", type=int, default=64, choices=SUPPORTED_SIZES)
    train.add_argument("--epochs", type=count(), required=True)
    train.add_argument("--out", required=True, help="run folder, e.g. runs/brain64")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--seed", type=seed, default=0)
    train.add_argument("--batch-size", type=count(), default=64)
    train.add_argument("--loss", choices=("bce", "hinge", "wgan-gp"), default="bce")
    train.add_argument("--lr-g", type=float, default=2e-4)
    train.add_argument("--lr-d", type=float, default=2e-4)
    train.add_argument(
        "--n-critic", type=count(), help="D steps per G step (default 1; 5 for wgan-gp)"
    )
    train.add_argument("--width", type=count(), default=64, help="channel multiplier (ngf = ndf)")
    train.add_argument("--latent-dim", type=count(), default=100)
    train.add_argument(
        "--norm",
        choices=("batch", "layer", "instance", "none"),
        help="discriminator norm (default batch; layer for wgan-gp)",
    )
    train.add_argument("--spectral-norm", action="store_true")
    train.add_argument("--conditional", action="store_true", help="condition on class labels")
    train.add_argument(
        "--conditional-norm",
        action="store_true",
        help="with --conditional: the label sets G's BatchNorm gains and biases (SNGAN, BigGAN)",
    )
    recipe = train.add_argument_group("the modern recipe (chapter 3; each off by default)")
    recipe.add_argument("--ema-decay", type=float, help="sample and ship an average of G (0.999)")
    recipe.add_argument("--ema-warmup", action="store_true", help="ramp the average's decay up")
    recipe.add_argument("--r1-gamma", type=float, default=0.0, help="R1 penalty weight (0: off)")
    recipe.add_argument("--r1-interval", type=count(), default=1, help="lazy R1: every k steps")
    recipe.add_argument("--augment", default="", help="DiffAugment, e.g. translation,cutout")
    recipe.add_argument(
        "--balance-classes",
        action="store_true",
        help="sample every class equally often (labelled data; e.g. rare lesion slices)",
    )
    recipe.add_argument(
        "--label-mismatch",
        type=float,
        default=0.0,
        help="with --conditional: weight of D seeing real images with wrong labels as fake",
    )
    recipe.add_argument(
        "--upsample", choices=("transpose", "nearest", "bilinear"), default="transpose"
    )
    recipe.add_argument("--minibatch-std", type=count(0), default=0, help="D's group size (0: off)")
    train.add_argument("--n-subjects", type=count(), help="virtual subjects of the built-in set")
    train.add_argument(
        "--data-seed",
        type=seed,
        help="seed of the built-in set's virtual subjects (another seed: other subjects)",
    )
    train.add_argument(
        "--class",
        dest="only_class",
        help="train an unconditional generator on this class of a labelled set only",
    )
    train.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    train.add_argument("--device", default="auto")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="insist on several processes: fail unless started by torchrun (which is "
        "detected without this flag); --batch-size is then the global batch",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    gen = commands.add_parser("generate", help="generate images with a trained generator")
    gen.add_argument(
        "--model", default=DEFAULT_MODEL, help="shipped model name, run folder or catalog id"
    )
    gen.add_argument("-n", type=int, default=16, help="number of images")
    gen.add_argument("--seed", type=seed, default=0)
    gen.add_argument(
        "--label", help="a conditional generator's class: its name (e.g. lesion) or index"
    )
    gen.add_argument("--out", required=True, help="output folder (must be new or empty)")
    gen.add_argument(
        "--format",
        choices=("png", "dicom"),
        default="png",
        help="PNG files and a grid (default), or DICOM secondary captures; both marked synthetic",
    )
    gen.set_defaults(func=_generate)
    # a catalog model: generated through medigan
    gen.add_argument("--catalog", help=CATALOG_HELP)
    add_unofficial_flag(gen)
    gen.add_argument(
        "--install-dependencies",
        action="store_true",
        help="let medigan's installer pip-install a catalog model's missing dependencies",
    )
    gen.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra generate argument of a catalog model (see `medgan models show ID`)",
    )


def _class_index(label: str | None, meta: GeneratorRecord) -> int | None:
    """``--label`` of our models: a class name from ``generator.json`` or an index."""
    classes = list(meta.classes)
    known = f"one of {classes} or an index" if classes else "an index"
    if label is None:
        if meta.model_config.conditional:
            raise ValueError(f"this model is class-conditional: give --label, {known}")
        return None
    if label in classes:
        return classes.index(label)
    if label.isdigit():
        return int(label)
    raise ValueError(f"--label {label} is not a class of this model: use {known}")
