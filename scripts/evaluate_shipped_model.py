"""Evaluate a shipped generator, record the numbers beside its weights, and rewrite its card.

    python scripts/evaluate_shipped_model.py                                   # brain-mri-dcgan-64
    python scripts/evaluate_shipped_model.py --model brain-mri-lesion-dcgan-64
    python scripts/evaluate_shipped_model.py --model brain-mri-conditional-64

``brain-mri-dcgan-64``: real images come from 48 virtual subjects the model never saw
(built-in set, seed 1); the near-copy check compares with the actual training set (128
subjects, seed 0). ``brain-mri-lesion-dcgan-64``: real images are the lesion slices of 96
labelled virtual subjects it never saw (seed 2); near-copies are checked against its training
set (the lesion slices of 384 labelled subjects, seed 1). ``brain-mri-conditional-64`` (one
generator, its label the class): each class's samples against that class's real slices of the
same 96 unseen labelled subjects (seed 2), near-copies against that class's training slices
(384 labelled subjects, seed 1), and the label fidelity (the domain encoder's lesion head on 512
samples of each label, beside its calls on each class's real slices). The report goes to
``evaluation.json`` beside the weights (``EvaluationReport.to_dict()`` plus how it was called
and how to read it), with FID, KID, precision and recall in both feature spaces of
``evaluate`` (``domain`` and ``anatomy``); ``MODEL_CARD.md`` is then written from the
recorded files (``medgan card MODEL`` prints the same card).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import medgan_utils as mu
from medgan_utils.ethics.cards import write_model_card
from medgan_utils.gan.zoo import model_path
from medgan_utils.settings import atomic_path

LESION = "brain-mri-lesion-dcgan-64"
CONDITIONAL = mu.gan.zoo.CONDITIONAL_MODEL
CALLS = {
    mu.DEFAULT_MODEL: (
        "`medgan_utils.evaluate(load_dataset('builtin', 64, seed=1), 'brain-mri-dcgan-64', "
        "n=768, train=load_dataset('builtin', 64, n_subjects=128), seed=0)`: real images from "
        "48 virtual subjects not used in training; domain and anatomy features (both spaces by "
        "default), not comparable with Inception-FID numbers in papers"
    ),
    LESION: (
        "`medgan_utils.evaluate(lesion slices of load_dataset('builtin-labelled', 64, "
        "n_subjects=96, seed=2), 'brain-mri-lesion-dcgan-64', n=512, train=lesion slices of "
        "load_dataset('builtin-labelled', 64, n_subjects=384, seed=1), seed=0)`: real lesion "
        "slices of 96 virtual subjects not used in training; domain and anatomy features"
    ),
    CONDITIONAL: (
        "`medgan_utils.evaluation.conditional.evaluate_conditional(load_dataset("
        "'builtin-labelled', 64, n_subjects=96, seed=2), G, train=load_dataset("
        "'builtin-labelled', 64, n_subjects=384, seed=1), seed=0)`: each class's samples "
        "against the real slices of that class of 96 virtual subjects not used in training "
        "(half of them, the other half for the floor); domain and anatomy features"
    ),
}
READINGS = {
    mu.DEFAULT_MODEL: (
        "in the domain space (trained also to spot synthetic artefacts) FID is far above its "
        "floor and precision is near zero: almost no generated slice falls inside the real "
        "images' k-NN manifold, so the samples are detectably synthetic by their texture. In "
        "the anatomy space (never shown an artefact) recall is close to its real-vs-real value "
        "(the real variety of levels and anatomy is covered) while precision is well below it "
        "(a share of the slices shows what no real slice does) and FID is still many times its "
        "floor. Diversity matches the real set's and no sample is a near-copy of a training "
        "image"
    ),
    LESION: (
        "in the domain space FID is far above its floor and precision and recall are zero: "
        "detectably synthetic by texture. In the anatomy space precision matches its "
        "real-vs-real value (each generated slice looks like some real lesion slice) but "
        "recall is less than half of it and FID far above its floor: the model covers only "
        "part of the real lesion slices' variety. Diversity is close to the real set's and no "
        "sample is a near-copy. Whether the slices show lesions is checked in chapter 6 with "
        "the domain encoder's lesion head"
    ),
    CONDITIONAL: (
        "the label decides what the slice shows: for both labels the share of samples the "
        "domain encoder's lesion head calls lesion lies within 10 points of the real class's "
        "share (label fidelity). Within each class the samples are still detectably synthetic "
        "by texture: in the domain space FID is many times its floor and precision far below "
        "its real-vs-real value. In the anatomy space the lesion class's precision matches its "
        "real-vs-real value while its recall is about half of it (the samples look like real "
        "lesion slices but cover only part of their variety), and the no-lesion class covers "
        "most of the real variety (recall close to its floor) with lower precision. Diversity "
        "matches the real sets' and near-copies stay within chance in both classes. The two "
        "classes are scored with different numbers of images (fewer real lesion slices), and "
        "FID and its floor depend on that number: compare each score with its own floor, not "
        "with the other class or with another card"
    ),
}


def lesion_slices(**options: Any) -> mu.MedicalImageDataset:
    """The lesion slices of a built-in labelled set, as a dataset (subjects kept)."""
    return mu.load_dataset("builtin-labelled", 64, **options).of_class("lesion")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=tuple(CALLS), default=mu.DEFAULT_MODEL)
    model = parser.parse_args(argv).model
    report: Any  # an EvaluationReport, or a ConditionalReport (per class, label fidelity)
    if model == CONDITIONAL:
        from medgan_utils.evaluation.conditional import evaluate_conditional

        G, _ = mu.load_generator(model)
        real = mu.load_dataset("builtin-labelled", 64, n_subjects=96, seed=2)
        train = mu.load_dataset("builtin-labelled", 64, n_subjects=384, seed=1)
        report = evaluate_conditional(real, G, train=train, seed=0)
    elif model == LESION:
        real = lesion_slices(n_subjects=96, seed=2)
        train = lesion_slices(n_subjects=384, seed=1)
        report = mu.evaluate(real, model, n=512, train=train, seed=0)
    else:
        real = mu.load_dataset("builtin", 64, seed=1)
        train = mu.load_dataset("builtin", 64, n_subjects=128)
        report = mu.evaluate(real, model, n=768, train=train, seed=0)
    print(report.to_text())
    folder = model_path(model)
    record = {**report.to_dict(), "call": CALLS[model], "reading": READINGS[model]}
    with atomic_path(folder / "evaluation.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return write_model_card(folder, model)


if __name__ == "__main__":
    print(main())
