"""ipywidgets dashboards, used in the chapters and standalone under Voila.

One module per dashboard; each has a function that returns an ipywidgets widget: display
it in a notebook, or serve a notebook that displays it with Voila (``voila
notebooks/dashboards/toy_gan.ipynb``). The widget's ``dashboard`` attribute is the Python
object behind it, holding the state, the ``controls`` and the data it last drew, so tests
and curious readers can set values, press buttons (``button.click()``) and check what is
shown.

- :func:`toy_gan_dashboard` (:mod:`~medgan_utils.dashboards.toy_gan`): a toy GAN in 1-D or
  2-D, trained click by click.
- :func:`latent_explorer` (:mod:`~medgan_utils.dashboards.latent`): walk the latent space
  of a trained generator.
- :func:`dataset_explorer` (:mod:`~medgan_utils.dashboards.datasets`): the MNI152 template
  volume and the built-in sets.
- :func:`catalog_browser` (:mod:`~medgan_utils.dashboards.catalog`): medigan's models and
  the project's own.
- :func:`turing_test` (:mod:`~medgan_utils.dashboards.turing`): a visual Turing test.
- :func:`bias_audit` (:mod:`~medgan_utils.dashboards.bias`): a lesion classifier's metrics
  per group.

Each module is named for what its dashboard shows, not like its function, so
``medgan_utils.dashboards.turing_test`` is the function and ``medgan_utils.dashboards.turing``
its module.

Dashboards are thin views: models, data and figures come from the package's other modules.
ipywidgets is imported only when a dashboard is built, so ``import medgan_utils`` and
``import medgan_utils.dashboards`` work without it. Helpers the dashboards share live in the
private :mod:`medgan_utils.dashboards._common`.

Example:
    >>> from medgan_utils.dashboards import toy_gan_dashboard, turing_test
    >>> toy_gan_dashboard()  # doctest: +SKIP
"""

from __future__ import annotations

from medgan_utils.dashboards.bias import bias_audit
from medgan_utils.dashboards.catalog import catalog_browser
from medgan_utils.dashboards.datasets import dataset_explorer
from medgan_utils.dashboards.latent import latent_explorer
from medgan_utils.dashboards.toy_gan import toy_gan_dashboard
from medgan_utils.dashboards.turing import turing_test

__all__ = [
    "bias_audit",
    "catalog_browser",
    "dataset_explorer",
    "latent_explorer",
    "toy_gan_dashboard",
    "turing_test",
]
