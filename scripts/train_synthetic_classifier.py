"""Train the shipped lesion classifier on synthetic scans only, and record how.

    python scripts/train_synthetic_classifier.py [--n-synthetic 4000] [--seed 0]

The images come from the shipped pair of generators (one per class,
``medgan_utils.downstream.synthetic_sources.BUILTIN_SYNTHETIC``) through the synthetic-dataset
builder; early stopping uses a held-out fifth of the *synthetic* images, so the classifier has
seen no real labelled scan: it is the starting point that the fine-tuning chapter adapts to N
real ones. Writes ``medgan_utils/pretrained/lesion_classifier_synthetic/classifier.safetensors``
(weights + metadata: sources, command, hardware, wall time, validation AUROC). The loaders
refuse the new weights until their SHA-256 is recorded: run
``python scripts/update_checksums.py --update`` and commit them with ``registry.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from medgan_utils import registry
from medgan_utils.downstream.classifier import (
    LesionClassifier,
    predict,
    save_classifier,
)
from medgan_utils.downstream.config import FinetuneConfig
from medgan_utils.downstream.fit import FitConfig, fit_classifier
from medgan_utils.downstream.synthetic_sources import BUILTIN_SYNTHETIC, synthetic_images
from medgan_utils.gan.runs import hardware_summary
from medgan_utils.settings import pick_device
from medgan_utils.stats import binary_metrics

RECORD = (
    "shipped weights rewritten: record their SHA-256 with `python scripts/update_checksums.py "
    "--update` (the loaders refuse them until then) and commit them with registry.py"
)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-synthetic", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    config = FinetuneConfig(n_synthetic=args.n_synthetic, seed=args.seed)
    syn = synthetic_images(BUILTIN_SYNTHETIC, config)
    order = np.random.default_rng(args.seed).permutation(len(syn))
    cut = len(syn) * 4 // 5
    train, val = syn.take(np.sort(order[:cut])), syn.take(np.sort(order[cut:]))
    model = LesionClassifier(config.classifier)
    fit = FitConfig(seed=args.seed, progress=True)
    history = fit_classifier(model, train.pair(), val.pair(), fit)
    val_metrics = binary_metrics(val.targets.numpy(), predict(model, val.images))
    print(f"synthetic validation: {val_metrics}")
    info = {
        "classes": ["lesion", "no_lesion"],
        "positive_class": "lesion",
        "trained_on": "synthetic images only",
        "synthetic_sources": BUILTIN_SYNTHETIC,
        "n_synthetic": len(train),
        "n_synthetic_val": len(val),
        "fit_config": asdict(fit),
        "history": history,
        "synthetic_val_metrics": val_metrics,
        "command": ["python", "scripts/train_synthetic_classifier.py", *sys.argv[1:]],
        "hardware": hardware_summary(pick_device("auto")),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    shipped = registry.artefact("lesion-classifier-synthetic")
    path = shipped.path / shipped.weights
    return save_classifier(model, path, info)


if __name__ == "__main__":
    print(main())
    print(RECORD)
