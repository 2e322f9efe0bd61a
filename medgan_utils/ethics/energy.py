"""Energy and emissions of a run: measured wall time times *assumed* power.

:func:`energy_estimate` turns a wall time into kWh and CO2e and lists every assumed number
with its source; :func:`training_energy` does it for a model from what its training
recorded (wall time and hardware in ``generator.json``).

Example:
    >>> print(energy_estimate(3600, "t4"))  # doctest: +SKIP
    >>> print(training_energy("brain-mri-dcgan-64"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medgan_utils.ethics._result import Result

__all__ = [
    "POWER_W",
    "WORLD_CARBON_G_PER_KWH",
    "EnergyEstimate",
    "energy_estimate",
    "power_key",
    "training_energy",
]

# Assumed average power draw (W) and where the figure comes from: nominal, not measured.
POWER_W: dict[str, tuple[float, str]] = {
    "cpu": (20.0, "2 cores of a shared cloud CPU: ~10 W per core, a share of a 200-300 W "
            "server CPU's nominal TDP"),
    "laptop": (30.0, "a laptop under sustained load (nominal)"),
    "t4": (70.0, "NVIDIA T4 board power 70 W (TDP)"),
    "a100": (400.0, "NVIDIA A100 SXM board power 400 W (TDP)"),
    "h100": (700.0, "NVIDIA H100 SXM board power 700 W (TDP, its maximum)"),
    "h200": (700.0, "NVIDIA H200 SXM board power 700 W (TDP, its maximum)"),
}  # fmt: skip
WORLD_CARBON_G_PER_KWH = 480.0  # world-average grid electricity, IEA (recent years)


@dataclass(frozen=True)
class EnergyEstimate(Result):
    """Energy and emissions of a run: measured wall time times *assumed* power.

    ``kwh = power_w * pue * wall_time_s / 3.6e6``; ``co2e_kg = kwh * carbon_g_per_kwh / 1000``;
    ``assumptions``: each assumed number and its source, in words.
    """

    wall_time_s: float
    power_w: float
    pue: float
    carbon_g_per_kwh: float
    kwh: float
    co2e_kg: float
    assumptions: tuple[str, ...]

    def to_text(self) -> str:
        head = (
            f"estimated energy {self.kwh:.3g} kWh, {self.co2e_kg * 1000:.3g} g CO2e for "
            f"{self.wall_time_s:.0f} s of measured wall time (an estimate, not measured power)"
        )
        return "\n".join([head] + [f"assumption: {a}" for a in self.assumptions])


def energy_estimate(
    wall_time_s: float,
    hardware: str = "cpu",
    power_w: float | None = None,
    carbon_g_per_kwh: float | None = None,
    *,
    pue: float = 1.0,
) -> EnergyEstimate:
    """Estimate kWh and kg CO2e of a run from its measured wall time.

    Args:
        wall_time_s: measured wall-clock seconds.
        hardware: a key of :data:`POWER_W`, whose nominal power is used unless ``power_w``.
        power_w: the device's average power draw in W, if you know it better.
        carbon_g_per_kwh: grid carbon intensity; default the world average, 480 g/kWh.
        pue: data-centre power usage effectiveness (1.0: the device alone).
    """
    if wall_time_s < 0 or pue < 1:
        raise ValueError(f"need wall_time_s >= 0 and pue >= 1, got {wall_time_s} and {pue}")
    source = "given by the caller"
    if power_w is None:
        if hardware.lower() not in POWER_W:
            raise ValueError(f"unknown hardware {hardware!r} ({', '.join(POWER_W)}): pass power_w")
        power_w, source = POWER_W[hardware.lower()]
    carbon = WORLD_CARBON_G_PER_KWH if carbon_g_per_kwh is None else carbon_g_per_kwh
    grid = "given by the caller" if carbon_g_per_kwh is not None else (
        "a world-average grid (IEA, recent years); local grids range from under 50 to over 800"
    )  # fmt: skip
    kwh = power_w * pue * wall_time_s / 3.6e6
    assumptions = (
        f"device power {power_w:g} W on average over the run: {source}",
        f"PUE {pue:g}" + (": the device alone, no cooling or power delivery" if pue == 1 else ""),
        f"grid carbon intensity {carbon:g} g CO2e/kWh: {grid}",
    )
    return EnergyEstimate(wall_time_s, power_w, pue, carbon, kwh, kwh * carbon / 1000, assumptions)


def power_key(hardware: str | None) -> str | None:
    """The key of :data:`POWER_W` for a recorded hardware line, e.g. ``"NVIDIA H100 80GB
    HBM3; torch 2.5"`` -> ``"h100"``; ``"cpu"`` for a CPU or unrecorded hardware; ``None``
    when no nominal power is known for it."""
    hardware = str(hardware or "")
    first = hardware.split(";")[0].lower()
    if not hardware or " cpu" in first:
        return "cpu"
    return next((k for k in POWER_W if k in first.replace(" ", "")), None)


def training_energy(record: str | Path | Mapping[str, Any]) -> EnergyEstimate:
    """The training energy of a model, from the wall time and hardware its training recorded.

    Args:
        record: a shipped model name or a run folder (its ``generator.json`` is read with
            :func:`~medgan_utils.gan.zoo.load_record`), or recorded metadata with
            ``wall_time_s`` and ``hardware`` (a record, or a classifier's metadata).

    Raises:
        ValueError: no wall time recorded, or no nominal power known for its hardware (then
            call :func:`energy_estimate` with the device's ``power_w``).
    """
    if not isinstance(record, Mapping):
        from medgan_utils.gan.zoo import load_record

        record = load_record(record)
    wall, hardware = record.get("wall_time_s"), record.get("hardware")
    if not wall:
        raise ValueError("no training wall time is recorded")
    kind = power_key(hardware)
    if kind is None:
        raise ValueError(f"no nominal power is known for {hardware}: pass power_w")
    return energy_estimate(float(wall), hardware=kind)
