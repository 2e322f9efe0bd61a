"""medgan_utils: read medical images, train and evaluate GANs, and use medigan's models.

The public names of each module are re-exported here; heavy optional dependencies
(Streamlit, ipywidgets, medigan's model packages) are imported only by the functions
that need them.
"""

from __future__ import annotations

from .builtin import BuiltinConfig, build_builtin, load_builtin
from .data import (
    SUPPORTED_SIZES,
    DatasetInfo,
    MedicalImageDataset,
    describe,
    load_dataset,
    resize_square,
    subject_split,
)
from .hub import Catalog, load_catalog
from .metrics import EvaluationReport, Score, evaluate
from .models import (
    DCGANConfig,
    Discriminator,
    Generator,
    build_gan,
    count_parameters,
    training_flops_per_image,
)
from .readers import DataError, RawSlice, ReadResult, SliceMeta
from .settings import atomic_path, data_home, quick_mode
from .synthetic import build_synthetic_dataset, load_synthetic_dataset
from .train import GANTrainer, TrainConfig, pick_device, pick_precision, set_seed
from .viz import make_grid, plot_grid, save_grid_png, slice_viewer_figure, to_uint8
from .zoo import DEFAULT_MODEL, generate, interpolate, list_models, load_generator

__version__ = "0.1.0"

__all__ = [
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
