"""``medgan finetune`` and ``medgan audit``: a lesion classifier with synthetic data, per group."""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import asdict

from medgan_utils.cli.options import count, seed
from medgan_utils.data.load import load_dataset
from medgan_utils.downstream.config import STRATEGIES

__all__ = ["add_commands"]


def _finetune(args: argparse.Namespace) -> int:
    from medgan_utils.downstream.config import FinetuneConfig
    from medgan_utils.downstream.finetune import run_experiments
    from medgan_utils.downstream.fit import FitConfig

    n_real = None if args.n_real == "all" else args.n_real
    options = {"n_subjects": args.n_subjects} if args.n_subjects is not None else {}
    real = load_dataset(args.real, 64, **options)
    fit = FitConfig(epochs=args.epochs, progress=not args.quiet and not args.json)
    config = FinetuneConfig(
        fit=fit,
        pretrain_epochs=args.pretrain_epochs if args.pretrain_epochs is not None else args.epochs,
        mix_ratio=args.mix_ratio,
        n_synthetic=args.n_synthetic,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        sampling=args.sampling,
        pretrained=args.pretrained,
        runs=args.runs,
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
    from medgan_utils.downstream.classifier import load_classifier
    from medgan_utils.ethics.dataset_audit import audit_dataset
    from medgan_utils.ethics.subgroups import audit_classifier

    model, meta = load_classifier(args.model)
    options = {"n_subjects": args.n_subjects} if args.n_subjects is not None else {}
    if args.data_seed is not None:
        options["seed"] = args.data_seed
    ds = load_dataset(args.data, model.config.image_size, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the audit lists its warnings itself
        dataset = audit_dataset(ds, args.group, source=args.data)
    report = audit_classifier(
        model,
        ds,
        args.group,
        positive_class=meta.get("positive_class"),
        threshold=args.threshold,
        n_boot=args.bootstrap,
        seed=args.seed,
        name=args.data,
    )
    if args.json:
        out = {"model": str(args.model), "data": args.data, "subgroups": report.to_dict()}
        print(json.dumps({**out, "dataset": dataset.to_dict()}))
    else:
        print(f"{args.model} on {args.data}, per {args.group}:\n{report.to_text()}\n")
        print(dataset.to_text())
    return 0


def _n_real(text: str) -> int | str:
    """``--n-real``: ``all`` or a count of at least 1."""
    return text if text == "all" else count()(text)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``medgan finetune`` and ``medgan audit``."""
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
    ft.add_argument("--n-real", type=_n_real, default="all", help="real training images, or 'all'")
    ft.add_argument("--strategy", choices=STRATEGIES, default="real")
    ft.add_argument("--seed", type=seed, default=0)
    ft.add_argument(
        "--runs",
        type=count(),
        default=1,
        help="training runs (seeds SEED, SEED+1, ...); intervals then cover training too",
    )
    ft.add_argument("--epochs", type=count(), default=40, help="most epochs (early stopping)")
    ft.add_argument("--pretrain-epochs", type=count(), help="synthetic pre-training epochs")
    ft.add_argument("--mix-ratio", type=float, default=1.0, help="synthetic per real image")
    ft.add_argument("--n-synthetic", type=count(), default=1000, help="images from a generator")
    ft.add_argument("--n-subjects", type=count(), help="virtual subjects of the built-in set")
    ft.add_argument("--sampling", choices=("spread", "few-subjects"), default="spread")
    ft.add_argument("--bootstrap", type=count(), default=1000, help="bootstrap resamples")
    ft.add_argument("--checkpoints", help="folder for the classifiers (safetensors)")
    ft.add_argument("--quiet", action="store_true", help="no progress bars")
    ft.add_argument("--json", action="store_true", help="print JSON for machines")
    ft.set_defaults(func=_finetune)

    audit = commands.add_parser("audit", help="per-group performance of a classifier, and the data")
    audit.add_argument("--model", required=True, help="classifier file (save_classifier)")
    audit.add_argument("--data", required=True, help="'builtin-labelled' or a labelled path")
    audit.add_argument("--group", default="site", help="group attribute of the images")
    audit.add_argument("--n-subjects", type=count(), help="virtual subjects of the built-in set")
    audit.add_argument("--data-seed", type=seed, help="built-in set's seed (other subjects)")
    audit.add_argument("--threshold", type=float, default=0.5, help="score of a positive call")
    audit.add_argument("--bootstrap", type=count(), default=200, help="bootstrap resamples (slow)")
    audit.add_argument("--seed", type=seed, default=0, help="seed of the bootstrap")
    audit.add_argument("--json", action="store_true", help="print JSON for machines")
    audit.set_defaults(func=_audit)
