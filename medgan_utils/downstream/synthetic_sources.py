"""The synthetic training set of the experiments, from whichever source it comes.

:func:`synthetic_images` accepts a labelled dataset, a folder written by
:func:`~medgan_utils.hub.generate.build_synthetic_dataset`, a class-conditional generator
(or a model name or run folder holding one), or one generator per class
(``{"lesion": MODEL, "no_lesion": MODEL}``, or the text ``"lesion=MODEL,no_lesion=MODEL"``
that :func:`parse_per_class` reads); :data:`BUILTIN_SYNTHETIC` is the shipped pair for the
built-in labelled set. Every source becomes
:class:`~medgan_utils.downstream.labelled.LabelledImages`.

Example:
    >>> syn = synthetic_images(BUILTIN_SYNTHETIC, FinetuneConfig(n_synthetic=200))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset
from medgan_utils.downstream.classifier import check_images
from medgan_utils.downstream.config import FinetuneConfig
from medgan_utils.downstream.labelled import LabelledImages, _positive, as_labelled
from medgan_utils.errors import DataError

__all__ = ["BUILTIN_SYNTHETIC", "synthetic_images", "parse_per_class"]

#: The shipped labelled synthetic source for the built-in labelled set: one generator per
#: class (a class-conditional DCGAN collapsed on these data; see the lesion model's card).
BUILTIN_SYNTHETIC = {"lesion": "brain-mri-lesion-dcgan-64", "no_lesion": "brain-mri-dcgan-64"}


def synthetic_images(
    source: Any,
    config: FinetuneConfig | None = None,
    classes: Sequence[str] = ("lesion", "no_lesion"),
) -> LabelledImages:
    """The synthetic training set from any source, as :class:`LabelledImages`.

    Args:
        source: a labelled dataset; a folder written by
            :func:`~medgan_utils.hub.generate.build_synthetic_dataset`; a conditional
            :class:`~medgan_utils.gan.models.Generator` with two classes (or a model name or
            folder holding one), from which ``config.n_synthetic`` images are generated,
            balanced between the classes; one generator per class as a mapping
            ``{class: model}`` (or the text ``"lesion=MODEL,no_lesion=MODEL"``), whose
            ``n_synthetic`` images, split evenly, are made by
            :func:`~medgan_utils.hub.generate.build_synthetic_dataset` through medigan; or any
            labelled path ``load_dataset`` reads.
        classes: the real set's classes; a generator's label ``i`` is ``classes[i]`` unless
            its ``generator.json`` lists its own classes.

    Raises:
        DataError: an empty set, no labels, a single class, or a generator that is not
            conditioned on two classes.
    """
    from medgan_utils.gan.models import Generator

    config = config or FinetuneConfig()
    size = config.classifier.image_size
    if isinstance(source, str) and "=" in source:
        source = parse_per_class(source)
    if isinstance(source, Mapping):
        return _per_class(source, config)
    if isinstance(source, (MedicalImageDataset, Subset, LabelledImages)):
        return as_labelled(source, config.positive_class, "synthetic set")
    meta: Mapping[str, Any] = {}  # a GeneratorRecord once loaded
    if isinstance(source, (str, Path)):
        from medgan_utils.gan.zoo import load_generator, model_path

        path = Path(source)
        if (path / "manifest.csv").exists():
            from medgan_utils.data.synthetic import load_synthetic_dataset

            return as_labelled(load_synthetic_dataset(path, size), config.positive_class, path)
        try:
            model_path(source)
        except DataError:
            return as_labelled(load_dataset(source, size), config.positive_class, source)
        source, meta = load_generator(source)
    if not isinstance(source, Generator):
        raise TypeError(f"cannot use a {type(source).__name__} as synthetic source")
    if source.config.num_classes != 2:
        raise DataError(
            meta.get("data", "generator"),
            f"needs a generator conditioned on 2 classes, got num_classes="
            f"{source.config.num_classes}",
        )
    from medgan_utils.gan.zoo import generate

    names = list(meta.get("classes") or classes)
    labels = torch.arange(config.n_synthetic) % 2
    images = generate(source, config.n_synthetic, seed=config.seed, labels=labels)
    check_images(images, config.classifier, "synthetic set")
    positive = names.index(_positive(names, config.positive_class))
    subjects = np.array([f"synthetic:{i}" for i in range(len(images))])
    return LabelledImages(images, (labels == positive).long(), subjects)


def parse_per_class(text: str) -> dict[str, str]:
    """``"lesion=A,no_lesion=B"`` -> ``{"lesion": "A", "no_lesion": "B"}``.

    Raises:
        ValueError: an item without ``=`` or fewer than two classes.
    """
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs) or len(pairs) < 2:
        raise ValueError(
            f"expected CLASS=MODEL,CLASS=MODEL (one generator per class), got {text!r}"
        )
    return {k.strip(): v.strip() for k, v in pairs}


def _per_class(models: Mapping[str, Any], config: FinetuneConfig) -> LabelledImages:
    """Images of one unconditional generator per class, via the synthetic-dataset builder."""
    import tempfile

    from medgan_utils.data.synthetic import load_synthetic_dataset
    from medgan_utils.exports import safe_name
    from medgan_utils.gan.zoo import list_models
    from medgan_utils.hub.catalog import load_catalog
    from medgan_utils.hub.generate import build_synthetic_dataset

    if len(models) < 2:
        raise DataError(
            "synthetic set", f"one generator per class needs 2 classes, got {dict(models)}"
        )
    ours = list_models()
    # Run folders join the catalog as local models named after the folder; medigan's
    # catalog is fetched only for a model that is neither ours nor a folder (medigan's own).
    local = {  # ids become folder names: hub.policy allows letters, digits, '_' and '-'
        f"local-{safe_name(Path(m).name)}": str(m)
        for m in models.values()
        if str(m) not in ours and Path(m).is_dir()
    }
    named = {v: k for k, v in local.items()}
    ids = {named.get(str(model), str(model)): name for name, model in models.items()}
    if len(ids) < len(models):
        raise DataError("synthetic set", f"each class needs its own generator: {dict(models)}")
    remote = [m for m in ids if m not in ours and m not in local]
    catalog = load_catalog(local_models=local, download=bool(remote))
    per_class = max(config.n_synthetic // len(models), 1)
    with tempfile.TemporaryDirectory(prefix="medgan-synthetic-") as tmp:
        build_synthetic_dataset(
            list(ids), per_class, tmp, config.seed, catalog=catalog, class_of=ids
        )
        data = load_synthetic_dataset(tmp, config.classifier.image_size)
    return as_labelled(data, config.positive_class, "synthetic set")
