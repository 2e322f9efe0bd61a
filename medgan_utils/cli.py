"""The ``medgan`` command line.

    medgan data info PATH|builtin|builtin-labelled [--image-size 64] [--on-error skip] [--json]
    medgan train --data builtin|PATH --image-size 64 --epochs N --out runs/NAME [--resume]
    medgan generate --model NAME|PATH|CATALOG_ID -n 16 --seed 0 --out DIR [--format dicom]
    medgan card NAME|RUN_DIR [--out FILE]
    medgan models list [--modality MRI] [--anatomy brain] [--type DCGAN] [--json]
    medgan models show|fetch ID
    medgan export-medigan RUN_DIR --out FILE.zip [--model-id 00000_DCGAN_BRAIN_MRI_64]

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

from medgan_utils.data.dataset import describe, load_dataset
from medgan_utils.errors import DataError
from medgan_utils.gan.zoo import DEFAULT_MODEL
from medgan_utils.settings import SUPPORTED_SIZES

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
    from medgan_utils.gan.models import DCGANConfig
    from medgan_utils.gan.runs import train_run
    from medgan_utils.gan.train import TrainConfig

    data_options: dict[str, int] = {"n_subjects": args.n_subjects} if args.n_subjects else {}
    if args.data_seed is not None:
        data_options["seed"] = args.data_seed
    num_classes = 0
    if args.conditional:
        from medgan_utils.data.dataset import load_dataset

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
        only_class=args.only_class,
    )
    last = trainer.history[-1] if trainer.history else {}
    print(
        f"trained {trainer.epoch} epochs into {args.out}: "
        + ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k != "epoch")
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from medgan_utils.gan.zoo import export_pngs, generate, load_generator

    if _catalog_model(args):
        if args.format != "png":
            raise ValueError("--format dicom works with our models, not medigan's catalog")
        return _generate_catalog(args)
    G, meta = load_generator(args.model)
    images = generate(G, args.n, seed=args.seed, labels=args.label)
    name = Path(str(args.model)).name if Path(str(args.model)).exists() else str(args.model)
    if args.format == "dicom":
        from medgan_utils.exports import export_dicom

        files = export_dicom(images, args.out, model=name, seed=args.seed)
        print(f"wrote {len(files)} synthetic DICOM files (one series) to {args.out}")
        return 0
    files = export_pngs(images, args.out, model=name, seed=args.seed)
    print(f"wrote {len(files) - 1} images and grid.png to {args.out}")
    return 0


def _card(args: argparse.Namespace) -> int:
    from medgan_utils.ethics.cards import card_for, write_model_card

    if args.out:
        print(
            f"wrote the model card of {args.model} to {write_model_card(args.model, out=args.out)}"
        )
    else:
        print(card_for(args.model), end="")
    return 0


# --- medigan: catalog ids in `generate`, `models list|show|fetch`, `export-medigan` ---


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


def _model_args(pairs: Sequence[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (numbers, lists, null)."""
    out: dict[str, object] = {}
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
    if args.label is not None:
        extra["condition"] = args.label
    files = generate(
        args.model,
        args.n,
        args.seed,
        out=args.out,
        catalog=args.loaded_catalog,
        install_dependencies=args.install_dependencies,
        **extra,
    )
    print(f"wrote {len(files)} synthetic files from {args.model} (through medigan) to {args.out}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from medgan_utils.hub.catalog import format_table, load_catalog

    catalog = load_catalog(args.catalog, refresh=args.refresh)
    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    cards = catalog.search(
        modality=args.modality,
        anatomy=args.anatomy,
        tags=args.tag,
        generator_type=args.type,
        image_size=(size * 2)[:2] if size else None,
        needs_input=args.needs_input,
    )
    if args.json:
        models = [c.to_dict() for c in cards]
        print(json.dumps({"origin": catalog.origin, "note": catalog.note, "models": models}))
        return 0
    rows = [
        {
            "id": c.model_id,
            "type": c.generator_type,
            "size": "x".join(map(str, c.image_size)),
            "modality": c.modality[0] if c.modality else None,
            "anatomy": c.anatomy[0] if c.anatomy else None,
            "from": "images" if c.needs_input else "noise",
            "on disk": "yes" if c.on_disk else "no",
        }
        for c in cards
    ]
    print(format_table(rows) if rows else "no model matches")
    print(f"{len(cards)} of {len(catalog)} models; catalog: {catalog.origin}")
    if catalog.note:
        print(f"note: {catalog.note}")
    return 0


def _models_show(args: argparse.Namespace) -> int:
    from medgan_utils.hub.catalog import load_catalog

    card = load_catalog(args.catalog).card(args.model_id)
    print(json.dumps(card.to_dict(), indent=2) if args.json else card.to_text())
    return 0


def _models_fetch(args: argparse.Namespace) -> int:
    from medgan_utils.hub.generate import fetch_model

    folder = fetch_model(args.model_id, args.catalog, timeout=args.timeout)
    print(f"{args.model_id}: checked and ready in {folder}")
    return 0


def _export_medigan(args: argparse.Namespace) -> int:
    from medgan_utils.hub.export import export_medigan

    card = {
        k: v
        for k, v in {
            "title": args.title,
            "modality": args.modality,
            "organ": args.anatomy,
            "licence": args.licence,
            "authors": args.author,
        }.items()
        if v
    }
    result = export_medigan(args.run_dir, args.out, model_id=args.model_id, **card)
    meta = Path(args.out).with_suffix(".json")
    print(f"exported {result.model_id} to {args.out} (SHA-256 {result.sha256})")
    print(f"metadata (medigan's format) in {meta}; try it with:")
    print(f"  medgan generate --model {result.model_id} --catalog {meta} -n 8 --out samples/")
    return 0


def _add_medigan_commands(
    commands: argparse._SubParsersAction, gen: argparse.ArgumentParser
) -> None:
    """The medigan parts of the parser: `models ...`, `export-medigan`, generate's options."""
    catalog_help = "medigan catalog file (config/global.json); default $MEDGAN_CATALOG or cached"
    gen.add_argument("--catalog", help=catalog_help)
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

    models = commands.add_parser("models", help="browse the catalog: medigan's models and ours")
    sub = models.add_subparsers(dest="models_command", required=True)
    ls = sub.add_parser("list", help="list (and filter) the catalog's models")
    ls.add_argument("--modality", help="e.g. MRI, x-ray, mammography")
    ls.add_argument("--anatomy", help="e.g. brain, breast, lung")
    ls.add_argument("--type", help="generator type, e.g. DCGAN, CycleGAN")
    ls.add_argument("--tag", action="append", default=[], help="a tag (repeat for several)")
    ls.add_argument("--size", help="image size: S or HxW")
    needs = ls.add_mutually_exclusive_group()
    needs.add_argument("--noise-only", dest="needs_input", action="store_false", default=None)
    needs.add_argument("--needs-input", dest="needs_input", action="store_true")
    ls.add_argument("--catalog", help=catalog_help)
    ls.add_argument("--refresh", action="store_true", help="download medigan's catalog again")
    ls.add_argument("--json", action="store_true", help="print JSON for machines")
    ls.set_defaults(func=_models_list, needs_input=None)
    show = sub.add_parser("show", help="print a model's card")
    show.add_argument("model_id")
    show.add_argument("--catalog", help=catalog_help)
    show.add_argument("--json", action="store_true", help="print JSON for machines")
    show.set_defaults(func=_models_show)
    fetch = sub.add_parser("fetch", help="download (or build) and check a model's package")
    fetch.add_argument("model_id")
    fetch.add_argument("--catalog", help=catalog_help)
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds per network wait")
    fetch.set_defaults(func=_models_fetch)

    export = commands.add_parser(
        "export-medigan", help="package a trained model for medigan (zip + metadata)"
    )
    export.add_argument("run_dir", help="run folder of `medgan train` (or a shipped model name)")
    export.add_argument("--out", required=True, help="the .zip to write")
    export.add_argument("--model-id", help="medigan id, e.g. 00000_DCGAN_BRAIN_MRI_64")
    export.add_argument("--title")
    export.add_argument("--modality", action="append", help="e.g. MRI (repeat for several)")
    export.add_argument("--anatomy", action="append", help="e.g. brain (repeat for several)")
    export.add_argument("--licence", help="default MIT")
    export.add_argument("--author", help="who trained it")
    export.set_defaults(func=_export_medigan)


def _metrics(args: argparse.Namespace) -> int:
    from medgan_utils.evaluation.metrics import evaluate

    report = evaluate(
        args.real, args.fake, n=args.n, extractor=args.extractor, seed=args.seed, train=args.train
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from medgan_utils.downstream.classifier import FitConfig
    from medgan_utils.downstream.finetune import FinetuneConfig, run_experiments

    n_real = None if args.n_real == "all" else int(args.n_real)
    options = {"n_subjects": args.n_subjects} if args.n_subjects else {}
    real = load_dataset(args.real, 64, **options)
    fit = FitConfig(epochs=args.epochs, progress=not args.quiet and not args.json)
    config = FinetuneConfig(
        fit=fit,
        pretrain_epochs=args.pretrain_epochs or args.epochs,
        mix_ratio=args.mix_ratio,
        n_synthetic=args.n_synthetic,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        sampling=args.sampling,
        pretrained=args.pretrained,
    )
    results = run_experiments(
        real, args.synthetic, [n_real], [args.strategy], config, checkpoint_dir=args.checkpoints
    )
    if args.json:
        print(json.dumps({"config": asdict(config), "results": [r.to_dict() for r in results]}))
    else:
        print("\n".join(r.to_text() for r in results))
    return 0


def _audit(args: argparse.Namespace) -> int:
    from medgan_utils.downstream.classifier import load_classifier, predict
    from medgan_utils.downstream.finetune import as_labelled
    from medgan_utils.ethics.audit import audit_dataset, subgroup_metrics

    model, meta = load_classifier(args.model)
    options = {"n_subjects": args.n_subjects} if args.n_subjects else {}
    if args.data_seed is not None:
        options["seed"] = args.data_seed
    ds = load_dataset(args.data, model.config.image_size, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the audit lists its warnings itself
        dataset = audit_dataset(ds, args.group, source=args.data)
    data = as_labelled(ds, meta.get("positive_class"), name=args.data)
    report = subgroup_metrics(
        data.targets.numpy(),
        predict(model, data.images),
        [m.groups[args.group] for m in ds.meta],
        threshold=args.threshold,
        n_boot=args.bootstrap,
        seed=args.seed,
        clusters=data.subjects,
        attribute=args.group,
    )
    if args.json:
        out = {"model": str(args.model), "data": args.data, "subgroups": report.to_dict()}
        print(json.dumps({**out, "dataset": dataset.to_dict()}))
    else:
        print(f"{args.model} on {args.data}, per {args.group}:\n{report.to_text()}\n")
        print(dataset.to_text())
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
    train.add_argument(
        "--data-seed",
        type=int,
        help="seed of the built-in set's virtual subjects (another seed: other subjects)",
    )
    train.add_argument(
        "--class",
        dest="only_class",
        help="train an unconditional generator on this class of a labelled set only",
    )
    train.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    train.add_argument("--device", default="auto")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    gen = commands.add_parser("generate", help="generate images with a trained generator")
    gen.add_argument(
        "--model", default=DEFAULT_MODEL, help="shipped model name, run folder or catalog id"
    )
    gen.add_argument("-n", type=int, default=16, help="number of images")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--label", type=int, help="class index for a conditional generator")
    gen.add_argument("--out", required=True, help="output folder (must be new or empty)")
    gen.add_argument(
        "--format",
        choices=("png", "dicom"),
        default="png",
        help="PNG files and a grid (default), or DICOM secondary captures; both marked synthetic",
    )
    gen.set_defaults(func=_generate)
    _add_medigan_commands(commands, gen)

    card = commands.add_parser(
        "card", help="write a model's card from its recorded files (Markdown)"
    )
    card.add_argument("model", help="shipped model name or run folder of `medgan train`")
    card.add_argument("--out", help="the Markdown file to write (default: print it)")
    card.set_defaults(func=_card)

    metrics = commands.add_parser(
        "metrics", help="score generated images against real ones, each beside its floor"
    )
    metrics.add_argument("--real", required=True, help="'builtin', a folder or a file")
    metrics.add_argument("--fake", required=True, help="a model (name or run folder) or images")
    metrics.add_argument("-n", type=int, help="images per set (default: half the real set)")
    metrics.add_argument("--train", help="the model's training images, for the near-copy check")
    metrics.add_argument("--extractor", choices=("domain", "inception", "pixels"), default="domain")
    metrics.add_argument("--seed", type=int, default=0)
    metrics.add_argument("--json", action="store_true", help="print JSON for machines")
    metrics.set_defaults(func=_metrics)
    ft = commands.add_parser("finetune", help="does synthetic data help a lesion classifier?")
    ft.add_argument("--real", required=True, help="'builtin-labelled' or a labelled path")
    ft.add_argument(
        "--synthetic",
        help="synthetic-dataset folder, labelled path, conditional model, or one model per "
        "class as CLASS=MODEL,CLASS=MODEL (the shipped pair: "
        "lesion=brain-mri-lesion-dcgan-64,no_lesion=brain-mri-dcgan-64)",
    )
    ft.add_argument(
        "--pretrained",
        help="for --strategy pretrain: start from this classifier (a checkpoint, the shipped "
        "'lesion-classifier-synthetic', or 'imagenet' with torchvision) instead of "
        "pre-training on --synthetic",
    )
    ft.add_argument("--n-real", default="all", help="real training images, or 'all'")
    ft.add_argument("--strategy", choices=("real", "pretrain", "mix", "synthetic"), default="real")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--epochs", type=int, default=40, help="most epochs (early stopping)")
    ft.add_argument("--pretrain-epochs", type=int, help="synthetic pre-training epochs")
    ft.add_argument("--mix-ratio", type=float, default=1.0, help="synthetic per real image")
    ft.add_argument("--n-synthetic", type=int, default=1000, help="images from a generator")
    ft.add_argument("--n-subjects", type=int, help="virtual subjects of the built-in set")
    ft.add_argument("--sampling", choices=("spread", "few-subjects"), default="spread")
    ft.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    ft.add_argument("--checkpoints", help="folder for the classifiers (safetensors)")
    ft.add_argument("--quiet", action="store_true", help="no progress bars")
    ft.add_argument("--json", action="store_true", help="print JSON for machines")
    ft.set_defaults(func=_finetune)

    audit = commands.add_parser("audit", help="per-group performance of a classifier, and the data")
    audit.add_argument("--model", required=True, help="classifier file (save_classifier)")
    audit.add_argument("--data", required=True, help="'builtin-labelled' or a labelled path")
    audit.add_argument("--group", default="site", help="group attribute of the images")
    audit.add_argument("--n-subjects", type=int, help="virtual subjects of the built-in set")
    audit.add_argument("--data-seed", type=int, help="built-in set's seed (other subjects)")
    audit.add_argument("--threshold", type=float, default=0.5, help="score of a positive call")
    audit.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (slow)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    audit.add_argument("--json", action="store_true", help="print JSON for machines")
    audit.set_defaults(func=_audit)
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
