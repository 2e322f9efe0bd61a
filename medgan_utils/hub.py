"""The bridge to medigan, the field's library of pre-trained medical GANs.

medigan is imported lazily (it pulls in requests and PyGithub, and 1.0.0 needs
setuptools' ``pkg_resources``), so ``import medgan_utils`` works without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import medigan

__all__ = ["import_medigan", "medigan_generators"]


def import_medigan() -> Any:
    """Import medigan, or raise an ImportError that says how to fix the install."""
    try:
        import medigan
    except ModuleNotFoundError as err:
        if err.name == "pkg_resources":
            raise ImportError(
                "medigan 1.0.0 imports pkg_resources, which setuptools 81 removed: "
                "run `pip install 'setuptools<81'` (the project's install does this)"
            ) from err
        raise ImportError(
            f"medigan is not installed ({err}): run `pip install medigan==1.0.0`"
        ) from err
    return medigan


def medigan_generators(config: Mapping[str, Any]) -> medigan.Generators:
    """Build ``medigan.Generators`` over a catalog dict, without touching the network.

    Args:
        config: a catalog in the layout of medigan's ``config/global.json``
            (model id -> {"execution", "selection", "description"}).

    Returns:
        A ``medigan.Generators`` whose config, search and generate functions use ``config``.
    """
    medigan = import_medigan()
    from medigan.config_manager import ConfigManager

    manager = ConfigManager(config_dict=dict(config))
    # medigan 1.0.0 fills model_ids only when it downloads the catalog itself; with a
    # config_dict given they stay empty and every search finds nothing. Fill them here.
    manager.model_ids = list(manager.config_dict)
    manager.is_config_loaded = True
    return medigan.Generators(config_manager=manager)
