"""Bias, fairness, privacy and accountability: audits, mitigation and model cards."""
