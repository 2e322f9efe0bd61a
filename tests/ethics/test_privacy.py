"""Tests of medgan_utils.ethics.privacy: the release gate on near-copies."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset
from medgan_utils.ethics.privacy import privacy_gate


@pytest.fixture(scope="module")
def shipped_data() -> tuple[MedicalImageDataset, MedicalImageDataset]:
    """brain-mri-dcgan-64's training set, and 16 virtual subjects it never saw."""
    return (
        load_dataset("builtin", 64, n_subjects=128),
        load_dataset("builtin", 64, n_subjects=16, seed=1),
    )


class Copycat(torch.nn.Module):
    """A "generator" that memorised its training set: ``f(n)`` returns training images."""

    def __init__(self, images: torch.Tensor, noise: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("images", images)
        self.noise = noise

    def forward(self, n: int) -> torch.Tensor:
        x = self.images[torch.arange(n) * 37 % len(self.images)]
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
        return (x + self.noise * noise).clamp(-1, 1)


def test_privacy_gate_fails_a_memorizing_generator(shipped_data):
    train, holdout = shipped_data
    gate = privacy_gate(Copycat(train.images), train, holdout, n=64)
    assert not gate.publishable and gate.n_flagged == 64
    assert gate.reason.startswith("not publishable: 64 of 64 samples are near-copies")
    assert gate.pairs[0][2] == 0.0 and gate.pairs[0][1] == 0  # sample 0 is training image 0
    noisy = privacy_gate(Copycat(train.images, noise=0.03), train, holdout, n=64)
    assert noisy.n_flagged > noisy.result.chance_bound
    assert not noisy.publishable  # copies with fresh scanner-like noise are still caught
    assert len(gate.plot(k=4).axes) == 8


def test_privacy_gate_passes_the_shipped_model(shipped_data):
    train, holdout = shipped_data
    gate = privacy_gate("brain-mri-dcgan-64", train, holdout, n=256)
    assert gate.publishable, gate.to_text()
    assert gate.reason.startswith(f"publishable: {gate.n_flagged} near-copies of 256 at threshold")
    assert gate.n_flagged <= gate.result.chance_bound == 9  # P(Binomial(256, 1%) > 9) < 0.001
    assert gate.threshold == pytest.approx(float(np.quantile(gate.result.reference, 0.01)))
    assert json.loads(json.dumps(gate.to_dict()))["publishable"] is True
    strict = privacy_gate("brain-mri-dcgan-64", train, holdout, threshold=1e9, n=16)
    assert not strict.publishable and strict.n_flagged == 16 and "given" in strict.rule


def test_privacy_gate_passes_new_subjects_and_blocks_a_partial_copier(shipped_data):
    """Images of subjects the model never saw, standing in for a generator that copies
    nothing, pass (the old "no sample below the smallest held-out distance" rule blocked
    such a generator about n / (H + 1) of the time); a generator that copies 1 sample in 10
    is blocked."""
    train, holdout = shipped_data
    others = load_dataset("builtin", 64, n_subjects=16, seed=2).images

    def new_subjects(n):
        return others[torch.randperm(len(others), generator=torch.Generator().manual_seed(0))[:n]]

    fair = privacy_gate(new_subjects, train, holdout, n=256)
    assert fair.publishable, fair.reason

    def partial(n):
        x = new_subjects(n).clone()
        x[::10] = train.images[: len(x[::10])]
        return x

    leaky = privacy_gate(partial, train, holdout, n=256)
    assert not leaky.publishable and leaky.n_flagged >= 26, leaky.reason
