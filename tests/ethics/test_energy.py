"""Tests of medgan_utils.ethics.energy: kWh and CO2e from wall time and assumed power."""

from __future__ import annotations

import json
import math

import pytest

from medgan_utils.ethics.energy import energy_estimate, power_key, training_energy
from medgan_utils.gan.zoo import DEFAULT_MODEL, model_path


def test_energy_estimate_arithmetic_and_assumptions():
    e = energy_estimate(3600, "h100")
    assert e.kwh == pytest.approx(700 * 3600 / 3.6e6) and e.kwh == pytest.approx(0.7)
    assert e.co2e_kg == pytest.approx(0.7 * 0.48)
    assert any("700 W" in a for a in e.assumptions)
    assert any("480 g CO2e/kWh" in a and "world-average" in a for a in e.assumptions)
    assert "not measured power" in e.to_text() and "PUE 1" in e.to_text()
    mine = energy_estimate(1800, power_w=100, carbon_g_per_kwh=50, pue=1.5)
    assert mine.kwh == pytest.approx(100 * 1.5 * 1800 / 3.6e6)
    assert mine.co2e_kg == pytest.approx(mine.kwh * 0.05)
    assert all("given by the caller" in mine.assumptions[i] for i in (0, 2))
    assert math.isclose(energy_estimate(3600).power_w, 20.0)  # the default: 2 CPU cores
    with pytest.raises(ValueError, match="unknown hardware 'tpu'"):
        energy_estimate(10, "tpu")


def test_training_energy_uses_the_recorded_wall_time_and_hardware():
    assert power_key("NVIDIA H100 80GB HBM3; torch 2.5; 8 threads") == "h100"
    assert power_key("x86_64 CPU, 2 cores; torch 2.5") == "cpu" and power_key(None) == "cpu"
    assert power_key("Some Accelerator X; torch 2.5") is None
    meta = json.loads((model_path(DEFAULT_MODEL) / "generator.json").read_text())
    assert training_energy(DEFAULT_MODEL) == energy_estimate(meta["wall_time_s"], "cpu")
    gpu = training_energy({"wall_time_s": 3600, "hardware": "NVIDIA H200; torch 2.5"})
    assert gpu.kwh == pytest.approx(0.7)
    with pytest.raises(ValueError, match="no training wall time"):
        training_energy({"hardware": "x86_64 CPU"})
    with pytest.raises(ValueError, match="no nominal power is known for Some Accelerator X"):
        training_energy({"wall_time_s": 5.0, "hardware": "Some Accelerator X"})
