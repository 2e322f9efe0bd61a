"""The results of the experiments: one :class:`ExperimentResult` per (strategy, ``N``).

Each result reads as JSON (:meth:`ExperimentResult.to_dict`, :meth:`ExperimentResult.from_dict`:
``medgan finetune --json`` and ``scripts/finetune_experiments.py`` write it) and as text;
:func:`results_table` sets them in a table and :func:`plot_auroc_vs_n` draws a metric against
``N`` with its 95 % band, one line per strategy.

Example:
    >>> results = run_experiments(real, "runs/cdcgan", n_values=(50, None))  # doctest: +SKIP
    >>> results_table(results)                                              # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medgan_utils.downstream.config import STRATEGIES
from medgan_utils.errors import DataError
from medgan_utils.settings import RECORDED
from medgan_utils.stats import Estimate

__all__ = [
    "RECORDED_GRID",
    "RECORDED_TSTR",
    "ExperimentResult",
    "load_recorded_grid",
    "results_table",
    "plot_auroc_vs_n",
]

#: The full-mode grid of chapter 6, as ``scripts/finetune_experiments.py`` recorded it.
RECORDED_GRID = RECORDED / "finetune_full.json"
#: Train on synthetic, test on real (the grid's ``synthetic`` strategy at N = 50, three
#: training runs) for each labelled synthetic source: the pair of per-class generators and
#: the conditional model; ``scripts/finetune_experiments.py --runs 3 --strategies synthetic``
#: recorded them (each record's ``command`` says how).
RECORDED_TSTR = {
    "pair": RECORDED / "tstr_pair_full.json",
    "conditional": RECORDED / "tstr_conditional_full.json",
}


@dataclass(frozen=True)
class ExperimentResult:
    """One (strategy, N) cell of the grid.

    Attributes:
        strategy: one of :data:`~medgan_utils.downstream.config.STRATEGIES`.
        n_requested: the ``N`` asked for (``None`` = all of the training pool).
        n_real: real training images of the row (``synthetic`` uses none, but shares the row).
        n_synthetic: synthetic images used.
        n_subjects: real subjects the ``n_real`` images come from.
        n_test: test images (``n_test_subjects`` subjects).
        metrics: ``{metric: Estimate}`` on the test split.
        vs_real: paired difference to real-only at the same ``N`` (``None`` for real-only).
        epochs: epochs trained in the last phase (early stopping included).
        runs: with several training runs per cell (``FinetuneConfig.runs``), each run's
            seed, epochs, real subjects and test metrics (without intervals); ``metrics`` is
            then their mean with an interval over test subjects and runs, and ``n_subjects``
            and ``epochs`` are the first run's. ``None`` for one run (and older records).
    """

    strategy: str
    n_requested: int | None
    n_real: int
    n_synthetic: int
    n_subjects: int
    n_test: int
    n_test_subjects: int
    metrics: dict[str, Estimate]
    vs_real: dict[str, Estimate] | None
    epochs: int
    runs: list[dict[str, float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentResult:
        """The inverse of :meth:`to_dict` (results saved as JSON)."""

        def est(d: dict[str, Any] | None) -> dict[str, Estimate] | None:
            return None if d is None else {k: Estimate(**v) for k, v in d.items()}

        return cls(**{**data, "metrics": est(data["metrics"]), "vs_real": est(data["vs_real"])})

    def to_text(self) -> str:
        head = f"{self.strategy:<9} N={self.n_real:<5}"
        parts = [f"{k} {v.to_text()}" for k, v in self.metrics.items()]
        line = head + "  " + "  ".join(parts)
        if self.runs:
            each = ", ".join(f"{run['auroc']:.3f}" for run in self.runs)
            line += f"\n{'':<17}{len(self.runs)} training runs, AUROC {each}"
        if self.vs_real is not None:
            line += f"\n{'':<17}vs real: AUROC {self.vs_real['auroc'].to_text(signed=True)}"
        return line


def plot_auroc_vs_n(
    results: Sequence[ExperimentResult], metric: str = "auroc", ax: Any = None
) -> Any:
    """AUROC (or another metric) against ``N`` with 95 % bands, one line per strategy.

    Drawn with seaborn (``lineplot`` in its ``whitegrid`` style, one colour and marker per
    strategy); the bands are the package's subject-level bootstrap intervals, filled in
    the line's colour, because seaborn's own error bars are computed from raw observations
    and these results hold intervals, not observations.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    rows = [
        {"strategy": r.strategy, "N": r.n_real, "value": e.value, "low": e.low, "high": e.high}
        for r in results
        for e in [r.metrics[metric]]
    ]
    data = pd.DataFrame(rows, columns=["strategy", "N", "value", "low", "high"])
    order = [s for s in STRATEGIES if s in set(data["strategy"])]
    palette = dict(zip(order, sns.color_palette("colorblind", len(order)), strict=True))
    with sns.axes_style("whitegrid"):
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if order:
            sns.lineplot(
                data=data,
                x="N",
                y="value",
                hue="strategy",
                hue_order=order,
                style="strategy",
                style_order=order,
                palette=palette,
                markers=True,
                errorbar=None,
                ax=ax,
            )
        for strategy in order:
            band = data[data["strategy"] == strategy].sort_values("N")
            ax.fill_between(
                band["N"], band["low"], band["high"], color=palette[strategy], alpha=0.15
            )
    ax.set_xscale("log")
    ax.set_xlabel("real training images N")
    ax.set_ylabel(f"test {metric.upper() if metric == 'auroc' else metric} (95% CI)")
    return ax.figure


def results_table(results: Sequence[ExperimentResult]) -> Any:
    """One row per (N, strategy): every metric as ``value [low, high]`` and the paired
    AUROC difference to real-only, as a pandas ``DataFrame``; with several training runs per
    cell, a ``runs`` column and each run's AUROC."""
    import pandas as pd

    rows = []
    for r in results:
        row: dict[str, Any] = {
            "N real": r.n_real,
            "strategy": r.strategy,
            "synthetic": r.n_synthetic,
        }
        if r.runs:
            row["runs"] = len(r.runs)
            row["AUROC per run"] = ", ".join(f"{run['auroc']:.3f}" for run in r.runs)
        row.update({k: v.to_text() for k, v in r.metrics.items()})
        row["AUROC vs real"] = "" if r.vs_real is None else r.vs_real["auroc"].to_text(signed=True)
        rows.append(row)
    return pd.DataFrame(rows)


def load_recorded_grid(
    path: str | Path = RECORDED_GRID,
) -> tuple[dict[str, Any], list[ExperimentResult]]:
    """A recorded experiment grid: its record (mode, command, config, hardware, wall time)
    and its results.

    Raises:
        DataError: the file is missing, not JSON, or not such a record.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        results = [ExperimentResult.from_dict(r) for r in record["results"]]
    except FileNotFoundError as err:
        raise DataError(
            path, "no recorded grid here; scripts/finetune_experiments.py writes one"
        ) from err
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"not a recorded experiment grid ({err})") from err
    return record, results
