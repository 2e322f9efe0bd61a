"""What the Streamlit page computes, without importing Streamlit. Nothing else imports it.

One module per concept, their public names re-exported here (``appkit.validate_request``):

- :mod:`~medgan_utils.appkit.core`: the models the app serves (the picker, the catalog
  table, the model card);
- :mod:`~medgan_utils.appkit.request`: a request, validated, and its shared link;
- :mod:`~medgan_utils.appkit.generation`: loading a model and generating PNGs chunk by chunk;
- :mod:`~medgan_utils.appkit.downloads`: file names, manifest and the ZIP;
- :mod:`~medgan_utils.appkit.messages`: the ethics notice and short error messages;
- :mod:`~medgan_utils.appkit.views`: metrics, interpolation, memorization, the Turing test;
- :mod:`~medgan_utils.appkit.page`: what the page itself holds: inline images, its caches.
"""

from __future__ import annotations

from medgan_utils.appkit.core import (
    ALL_MODALITIES,
    CATALOG_ENV,
    DOWNLOADS,
    MODALITIES,
    MODELS_ENV,
    NEEDS_INPUT,
    READY,
    ModelChoice,
    card_markdown,
    catalog_key,
    catalog_table,
    class_options,
    load_app_catalog,
    missing_packages,
    modality_choices,
    modality_of,
    model_choices,
)
from medgan_utils.appkit.downloads import build_zip, file_name, manifest_csv, zip_name
from medgan_utils.appkit.generation import (
    CHUNK_PIXELS,
    LoadedModel,
    chunk_bounds,
    chunk_size,
    decode_pngs,
    generate_pngs,
    image_labels,
    load_model,
)
from medgan_utils.appkit.messages import ETHICS, WORD_JOINER, escape_markdown, user_message
from medgan_utils.appkit.page import inline_png, page_caches, settle_memory
from medgan_utils.appkit.request import (
    MAX_COUNT,
    MAX_SEED,
    TRUNCATIONS,
    GenerationRequest,
    InvalidRequest,
    check_integer,
    max_count,
    query_params,
    query_request,
    random_seed,
    supports_truncation,
    validate_request,
)

__all__ = [
    "ALL_MODALITIES",
    "CATALOG_ENV",
    "CHUNK_PIXELS",
    "DOWNLOADS",
    "ETHICS",
    "MAX_COUNT",
    "MAX_SEED",
    "MODALITIES",
    "MODELS_ENV",
    "NEEDS_INPUT",
    "READY",
    "TRUNCATIONS",
    "WORD_JOINER",
    "GenerationRequest",
    "InvalidRequest",
    "LoadedModel",
    "ModelChoice",
    "build_zip",
    "card_markdown",
    "catalog_key",
    "catalog_table",
    "check_integer",
    "chunk_bounds",
    "chunk_size",
    "class_options",
    "decode_pngs",
    "escape_markdown",
    "file_name",
    "generate_pngs",
    "image_labels",
    "inline_png",
    "load_app_catalog",
    "load_model",
    "manifest_csv",
    "max_count",
    "missing_packages",
    "modality_choices",
    "modality_of",
    "model_choices",
    "page_caches",
    "query_params",
    "query_request",
    "settle_memory",
    "random_seed",
    "supports_truncation",
    "user_message",
    "validate_request",
    "zip_name",
]
