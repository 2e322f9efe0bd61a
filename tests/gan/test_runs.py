"""Tests of medgan_utils.gan.runs beyond the CLI's: one generator per class (``--class``)."""

from __future__ import annotations

import json
import os

import pytest
import torch

from medgan_utils.data.load import load_dataset
from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.runs import train_run
from medgan_utils.gan.train import TrainConfig

TINY = DCGANConfig(image_size=32, width=4, latent_dim=8)
ONE = TrainConfig(epochs=1, batch_size=8, n_samples=4, precision="fp32")
OPTIONS = {"n_subjects": 6, "seed": 1}


def test_one_class_run_trains_on_that_class_only(tmp_path):
    data = load_dataset("builtin-labelled", 32, **OPTIONS)
    n_lesion = int((data.labels == data.classes.index("lesion")).sum())
    assert 8 <= n_lesion < len(data)
    train_run(
        "builtin-labelled",
        tmp_path / "r",
        TINY,
        ONE,
        progress=False,
        data_options=OPTIONS,
        only_class="lesion",
    )
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    meta = json.loads((tmp_path / "r" / "generator.json").read_text())
    assert record["n_images"] == n_lesion and record["only_class"] == "lesion"
    assert meta["only_class"] == "lesion" and meta["classes"] == []  # unconditional
    # resuming with another class is another run
    with pytest.raises(DataError, match="different run"):
        train_run(
            "builtin-labelled",
            tmp_path / "r",
            TINY,
            ONE,
            resume=True,
            progress=False,
            data_options=OPTIONS,
            only_class="no_lesion",
        )


def test_one_class_run_rejects_bad_requests(tmp_path):
    with pytest.raises(DataError, match="has no class 'tumour'"):
        train_run(
            "builtin-labelled",
            tmp_path / "a",
            TINY,
            ONE,
            progress=False,
            data_options=OPTIONS,
            only_class="tumour",
        )
    conditional = DCGANConfig(image_size=32, width=4, latent_dim=8, num_classes=2)
    with pytest.raises(ValueError, match="unconditional"):
        train_run(
            "builtin-labelled",
            tmp_path / "b",
            conditional,
            ONE,
            progress=False,
            data_options=OPTIONS,
            only_class="lesion",
        )


def test_the_hardware_line_names_the_cpu_and_whether_it_has_bf16_units(monkeypatch):
    from medgan_utils.ethics.energy import power_key
    from medgan_utils.gan import runs

    for has, units in ((True, "AMX/AVX512-BF16;"), (False, "(no bf16 units);")):
        monkeypatch.setattr(runs, "cpu_has_bf16", lambda has=has: has)
        line = runs.hardware_summary(torch.device("cpu"))
        assert f" CPU, {os.cpu_count()} cores, " in line and units in line
        assert line.endswith(
            f"{torch.get_num_threads()} thread" + "s" * (torch.get_num_threads() != 1)
        )
        assert power_key(line) == "cpu"  # the energy estimate still knows it for a CPU
