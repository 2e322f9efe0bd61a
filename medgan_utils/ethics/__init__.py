"""Bias, fairness, privacy and accountability: audits, mitigation and model cards.

One module per concept; their public names are re-exported here, so
``medgan_utils.ethics.subgroup_metrics`` keeps working wherever the function lives:

- ``subgroups``: performance per group with intervals, and the one pipeline that audits a
  classifier per group (:func:`~medgan_utils.ethics.subgroups.score_groups`,
  :func:`~medgan_utils.ethics.subgroups.audit_classifier`), used by ``medgan audit``, the
  bias-audit dashboard and chapter 7;
- ``dataset_audit``: who is in a dataset, per group;
- ``leakage``: a slice-level against a subject-level split;
- ``privacy``: the release gate on near-copies of training images;
- ``energy``: kWh and CO2e from a measured wall time and assumed power;
- ``mitigation``: closing a subgroup gap with synthetic images, measured;
- ``cards``: the one model-card renderer
  (:func:`~medgan_utils.ethics.cards.card_for`), for generators and, through
  ``classifier_card``, for classifiers.

Private helpers: ``_result`` (what the result dataclasses share) and ``_card_parts`` (what
every card shares).
"""

from __future__ import annotations

from medgan_utils.ethics.cards import (
    AUDIT_FILE,
    EVALUATION_FILE,
    SECTIONS,
    card_for,
    model_card,
    resolve_model_folder,
    write_model_card,
)
from medgan_utils.ethics.classifier_card import classifier_card
from medgan_utils.ethics.dataset_audit import DatasetAudit, audit_dataset
from medgan_utils.ethics.energy import (
    POWER_W,
    EnergyEstimate,
    energy_estimate,
    power_key,
    training_energy,
)
from medgan_utils.ethics.leakage import LeakageConfig, LeakageResult, leakage_demo
from medgan_utils.ethics.mitigation import (
    MitigationResult,
    mitigation_experiment,
    select_like_group,
)
from medgan_utils.ethics.privacy import PrivacyGate, privacy_gate
from medgan_utils.ethics.subgroups import (
    SUBGROUP_METRICS,
    GroupScores,
    SubgroupReport,
    audit_classifier,
    plot_subgroups,
    score_groups,
    subgroup_metrics,
    subgroup_resamples,
)

__all__ = [
    "SUBGROUP_METRICS",
    "SubgroupReport",
    "subgroup_metrics",
    "subgroup_resamples",
    "plot_subgroups",
    "GroupScores",
    "score_groups",
    "audit_classifier",
    "DatasetAudit",
    "audit_dataset",
    "LeakageConfig",
    "LeakageResult",
    "leakage_demo",
    "PrivacyGate",
    "privacy_gate",
    "POWER_W",
    "EnergyEstimate",
    "energy_estimate",
    "power_key",
    "training_energy",
    "MitigationResult",
    "mitigation_experiment",
    "select_like_group",
    "SECTIONS",
    "EVALUATION_FILE",
    "AUDIT_FILE",
    "model_card",
    "card_for",
    "classifier_card",
    "resolve_model_folder",
    "write_model_card",
]
