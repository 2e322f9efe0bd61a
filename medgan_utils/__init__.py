"""medgan_utils: read medical images, train and evaluate GANs, and use medigan's models.

The public names of each module are re-exported here; heavy optional dependencies
(Streamlit, ipywidgets, medigan's model packages) are imported only by the functions
that need them.
"""

from __future__ import annotations

from medgan_utils.data.builtin import BuiltinConfig, build_builtin, load_builtin
from medgan_utils.data.dataset import (
    DatasetInfo,
    MedicalImageDataset,
    describe,
    resize_square,
    subject_split,
)
from medgan_utils.data.load import load_dataset
from medgan_utils.data.slices import RawSlice, ReadResult, SliceMeta
from medgan_utils.data.synthetic import load_synthetic_dataset
from medgan_utils.errors import DataError
from medgan_utils.evaluation.evaluate import EvaluationReport, evaluate
from medgan_utils.evaluation.metrics import Score
from medgan_utils.gan.models import (
    DCGANConfig,
    Discriminator,
    Generator,
    build_gan,
    count_parameters,
    training_flops_per_image,
)
from medgan_utils.gan.record import GeneratorRecord
from medgan_utils.gan.train import GANTrainer, TrainConfig
from medgan_utils.gan.zoo import (
    DEFAULT_MODEL,
    generate,
    interpolate,
    list_models,
    load_generator,
    load_record,
)
from medgan_utils.hub.catalog import Catalog, load_catalog
from medgan_utils.hub.generate import build_synthetic_dataset
from medgan_utils.settings import (
    SUPPORTED_SIZES,
    atomic_path,
    data_home,
    pick_device,
    pick_precision,
    quick_mode,
    set_seed,
)
from medgan_utils.viz import make_grid, plot_grid, save_grid_png, slice_viewer_figure, to_uint8

__version__ = "0.1.0"

__all__ = [
    "GeneratorRecord",
    "load_record",
    "DEFAULT_MODEL",
    "SUPPORTED_SIZES",
    "Catalog",
    "EvaluationReport",
    "Score",
    "evaluate",
    "build_synthetic_dataset",
    "generate",
    "interpolate",
    "list_models",
    "load_catalog",
    "load_generator",
    "load_synthetic_dataset",
    "BuiltinConfig",
    "DCGANConfig",
    "Discriminator",
    "GANTrainer",
    "Generator",
    "TrainConfig",
    "build_builtin",
    "build_gan",
    "count_parameters",
    "load_builtin",
    "pick_device",
    "pick_precision",
    "set_seed",
    "training_flops_per_image",
    "DataError",
    "DatasetInfo",
    "MedicalImageDataset",
    "RawSlice",
    "ReadResult",
    "SliceMeta",
    "atomic_path",
    "data_home",
    "describe",
    "load_dataset",
    "make_grid",
    "plot_grid",
    "quick_mode",
    "resize_square",
    "save_grid_png",
    "slice_viewer_figure",
    "subject_split",
    "to_uint8",
]
