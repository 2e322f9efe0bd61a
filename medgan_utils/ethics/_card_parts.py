"""What every model card shares: its sections, its recorded files, the Markdown they become.

The generator card (:mod:`medgan_utils.ethics.cards`) and the classifier card
(:mod:`medgan_utils.ethics.classifier_card`) fill the same :data:`SECTIONS`; this module
renders them (:func:`render`), reads the results recorded beside a model's weights
(:func:`recorded`) and writes the sections both cards word alike: subgroup results and
training energy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medgan_utils.errors import DataError

EVALUATION_FILE = "evaluation.json"  # EvaluationReport.to_dict() (+ "call", "reading")
AUDIT_FILE = "audit.json"  # SubgroupReport.to_dict(), or {"reports": [...], "notes": [...]}
SECTIONS = (
    "Intended use",
    "Out-of-scope use",
    "Data",
    "Training",
    "Metrics",
    "Subgroup results",
    "Memorization",
    "Energy",
    "Limitations",
    "Licence",
)


def fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def cell(value: Any) -> str:
    """A Markdown table cell: numbers as :func:`fmt`, nested results as compact JSON."""
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else fmt(value)
    return text.replace("|", "\\|").replace("\n", " ")


def code(command: list[str] | str) -> str:
    return f"`{' '.join(command) if isinstance(command, list) else command}`"


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable JSON: {e}") from None


def recorded(folder: Path) -> tuple[Any, Any]:
    """The contents of ``evaluation.json`` and ``audit.json`` in ``folder`` (``None`` if absent)."""
    return tuple(  # type: ignore[return-value]
        read_json(folder / f) if (folder / f).is_file() else None
        for f in (EVALUATION_FILE, AUDIT_FILE)
    )


def render(title: str, intro: str, body: dict[str, list[str]]) -> str:
    """The Markdown of a card: title, intro, then every section of :data:`SECTIONS`."""
    lines = [f"# Model card: {title}", "", intro]
    for section in SECTIONS:
        lines += ["", f"## {section}", *body[section]]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- subgroup results


def _estimate(e: Any) -> str:
    """An ``Estimate`` dict as ``0.812 [0.774, 0.850]``; ``n/a`` where it is undefined."""
    if not isinstance(e, dict):
        return cell(e)
    num = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    return f"{num(e.get('value'))} [{num(e.get('low'))}, {num(e.get('high'))}]"


def _subgroup_report(report: dict[str, Any]) -> list[str]:
    """A ``SubgroupReport.to_dict()`` as a table: one row per metric, one column per group."""
    attribute, counts = report.get("attribute", "group"), report.get("counts") or {}
    groups = list(report["by_group"])
    metrics = list(dict.fromkeys(m for g in groups for m in report["by_group"][g]))
    gaps = report.get("gaps") or {}
    head = [f"{attribute} {g} (n={counts.get(g, '?')})" for g in groups] + ["gap (max - min)"]
    lines = [f"{report['description']}", ""] if report.get("description") else []
    lines += [
        "| metric | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
        *(
            f"| {m} | "
            + " | ".join(_estimate(report["by_group"][g].get(m)) for g in groups)
            + f" | {_estimate(gaps.get(m))} |"
            for m in metrics
        ),
        "",
    ]
    if report.get("equalized_odds") is not None:
        lines.append(f"- equalized-odds difference {_estimate(report['equalized_odds'])}")
    if report.get("n_boot") is not None:
        lines.append(
            f"- threshold {fmt(report.get('threshold', '?'))}; 95% percentile bootstrap over "
            f"{report.get('unit', '?')} ({report['n_boot']} resamples)"
        )
    return lines


def subgroup_section(audit: dict[str, Any] | list[Any] | None, where: str) -> list[str]:
    """``audit.json``: one ``SubgroupReport.to_dict()`` (optionally with a ``description``),
    ``{"reports": [...], "notes": [...]}``, what ``medgan audit --json`` prints (its
    ``"subgroups"`` is a report), or plain rows ``{"subgroups": [{...}, ...]}``."""
    if isinstance(audit, dict) and isinstance(audit.get("subgroups"), dict):
        audit = {**audit, "reports": [audit["subgroups"]], "subgroups": None}
    if isinstance(audit, dict) and "by_group" in audit:
        audit = {"reports": [audit]}
    reports = audit.get("reports") if isinstance(audit, dict) else None
    rows = audit.get("subgroups") if isinstance(audit, dict) else audit
    if not reports and not rows:
        return [
            "Not measured: no subgroup results are recorded. Compute them with "
            "`medgan_utils.ethics.subgroup_metrics` (e.g. by acquisition site) and save its "
            f"`to_dict()` as `{AUDIT_FILE}` in {where}, then write this card again."
        ]
    lines: list[str] = []
    for report in reports or []:
        lines += [*_subgroup_report(report), ""]
    if rows:
        keys = list(dict.fromkeys(k for row in rows for k in row))
        lines += [
            "| " + " | ".join(keys) + " |",
            "|" + "---|" * len(keys),
            *("| " + " | ".join(cell(row.get(k, "")) for k in keys) + " |" for row in rows),
            "",
        ]
    if isinstance(audit, dict):
        lines += [f"- note: {n}" for n in audit.get("notes") or []]
    return lines[:-1] if lines and not lines[-1] else lines


# --------------------------------------------------------------------------- energy


def energy_section(meta: Mapping[str, Any]) -> list[str]:
    """Training energy: the recorded wall time times the assumed power of its hardware."""
    from medgan_utils.ethics.energy import energy_estimate, power_key

    wall = meta.get("wall_time_s")
    if not wall:
        return [
            "Not measured: no training wall time is recorded (`medgan train` records it in "
            "`generator.json`)."
        ]
    hardware = str(meta.get("hardware") or "")
    kind = power_key(hardware)
    if kind is None:
        return [
            f"Training: {fmt(float(wall))} s on {hardware}; no nominal power is known for it. "
            "Estimate it with "
            f"`medgan_utils.ethics.energy_estimate({float(wall)}, power_w=W)`."
        ]
    est = energy_estimate(float(wall), hardware=kind)
    return [
        f"Training: {fmt(float(wall))} s on {hardware or 'unrecorded hardware (assumed CPU)'}.",
        "",
        f"- estimate: {est.kwh:.3g} kWh, {est.co2e_kg * 1000:.3g} g CO2e (assumed power, "
        "not measured)",
        *(f"- assumption: {a}" for a in est.assumptions),
        "- not counted: data preparation, evaluation and idle time",
    ]
