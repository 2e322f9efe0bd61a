"""Label fidelity and per-class evaluation of a conditional generator."""

from __future__ import annotations

import pytest
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset
from medgan_utils.evaluation.conditional import evaluate_per_class, label_fidelity
from medgan_utils.evaluation.evaluate import evaluate
from medgan_utils.evaluation.features import load_domain_encoder
from medgan_utils.gan.models import DCGANConfig, Generator


@pytest.fixture(scope="module")
def labelled() -> MedicalImageDataset:
    """Built-in labelled slices (lesion = 0, no_lesion = 1) at 64 px."""
    return load_dataset("builtin-labelled", 64, n_subjects=24, seed=7)


class BankGenerator(Generator):
    """A 'generator' that returns real images of the class it is asked for (or, with
    ``ignore_label``, always of class 0): a generator that follows its label perfectly, or
    one that ignores it."""

    def __init__(self, real: MedicalImageDataset, ignore_label: bool = False) -> None:
        super().__init__(DCGANConfig(image_size=64, width=4, num_classes=2))
        self.bank = [real.images[real.labels == c] for c in (0, 1)]
        self.ignore_label = ignore_label

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        assert labels is not None
        # the noise picks the image: the same seed gives the same images per class
        pick = (z[:, 0].abs() * 1e4).long()
        out = []
        for i, y in zip(pick.tolist(), labels.tolist(), strict=True):
            bank = self.bank[0 if self.ignore_label else y]
            out.append(bank[i % len(bank)])
        return torch.stack(out)


def test_label_fidelity_real_shares_are_the_heads_calls(labelled: MedicalImageDataset) -> None:
    result = label_fidelity(BankGenerator(labelled), labelled, n=64)
    head = load_domain_encoder()
    with torch.no_grad():
        called = head(labelled.images)["lesion"] > 0
    for label, c in enumerate(result.classes):
        assert c.label == labelled.classes[label]
        own = labelled.labels == label
        assert c.n_real == int(own.sum())
        assert c.real_positive == int(called[own].sum())
    lesion, no_lesion = result.classes
    assert lesion.real_share > 0.6 and no_lesion.real_share < 0.1  # the head works


def test_label_fidelity_tells_a_generator_that_ignores_its_label(
    labelled: MedicalImageDataset,
) -> None:
    follows = label_fidelity(BankGenerator(labelled), labelled, n=200)
    assert follows.within(0.15)  # 200 draws of real images of each class
    ignores = label_fidelity(BankGenerator(labelled, ignore_label=True), labelled, n=200)
    assert not ignores.within()
    assert ignores.classes[1].gap > 0.4  # "no lesion" samples called lesion as often
    text = ignores.to_text()
    assert "no_lesion" in text and "not within" in text
    record = ignores.to_dict()
    assert record["within_tolerance"] is False
    lo, hi = record["classes"][0]["generated_interval"]
    assert lo <= record["classes"][0]["generated_share"] <= hi


def test_evaluate_points_a_conditional_model_to_evaluate_conditional(
    labelled: MedicalImageDataset,
) -> None:
    with pytest.raises(ValueError, match="class-conditional: score each class"):
        evaluate(labelled, BankGenerator(labelled), n=32)


def test_label_fidelity_rejects_bad_input(labelled: MedicalImageDataset) -> None:
    with pytest.raises(ValueError, match="class-conditional"):
        label_fidelity(Generator(DCGANConfig(width=4)), labelled)
    three = Generator(DCGANConfig(width=4, num_classes=3))
    with pytest.raises(ValueError, match="3 classes"):
        label_fidelity(three, labelled)
    with pytest.raises(ValueError, match="positive class 'tumour'"):
        label_fidelity(BankGenerator(labelled), labelled, positive="tumour")
    with pytest.raises(ValueError, match="not the generator's"):
        label_fidelity(BankGenerator(labelled), labelled, classes=["a", "b"])


@pytest.mark.filterwarnings("ignore:domain FID skipped")
def test_evaluate_per_class_scores_each_class_against_its_own_images(
    labelled: MedicalImageDataset,
) -> None:
    reports = evaluate_per_class(
        labelled,
        BankGenerator(labelled),
        n=48,
        extractor="domain",
        n_splits=1,
        check_memorization=False,
    )
    assert list(reports) == ["lesion", "no_lesion"]
    for report in reports.values():
        assert report.scores["kid"].n == 48
    # (KID: 48 images are too few for FID in 128 dimensions.) Lesion slices offered as the
    # "no_lesion" class (a generator that ignores its label) are far from that class's images
    swapped = evaluate_per_class(
        labelled,
        BankGenerator(labelled, ignore_label=True),
        n=48,
        extractor="domain",
        n_splits=1,
        check_memorization=False,
    )
    kid = lambda r: r["no_lesion"].scores["kid"].value  # noqa: E731
    assert (
        kid(swapped) > 2 * kid(reports)
        and kid(swapped) > 2 * reports["no_lesion"].scores["kid"].floor
    )
