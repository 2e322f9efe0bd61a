"""The dashboards package: its names, and that importing it leaves ipywidgets unloaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    bias_audit,
    turing_test,
)


def test_importing_the_package_does_not_import_ipywidgets():
    code = (
        "import sys, medgan_utils, medgan_utils.gan.toygan, medgan_utils.dashboards, "
        "medgan_utils.dashboards.toy_gan, medgan_utils.dashboards.latent, "
        "medgan_utils.dashboards.datasets, medgan_utils.dashboards.catalog, "
        "medgan_utils.dashboards.turing, medgan_utils.dashboards.bias, "
        "medgan_utils.evaluation.turing, medgan_utils.hub.usage; "
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_exports_each_dashboard_function():
    import medgan_utils.dashboards as dashboards
    from medgan_utils.dashboards import bias_audit as bias_audit_module  # the function
    from medgan_utils.dashboards.bias import BiasAuditDashboard

    for name in dashboards.__all__:
        assert callable(getattr(dashboards, name)), name
    assert bias_audit_module is bias_audit and BiasAuditDashboard.__name__ == "BiasAuditDashboard"
    assert turing_test.__module__ == "medgan_utils.dashboards.turing"
