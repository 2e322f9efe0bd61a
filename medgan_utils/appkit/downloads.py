"""What *Download* gives: a request's images, named and marked synthetic, in one ZIP.

File names and PNG marks follow :mod:`medgan_utils.exports`, so a file from the app is the
file ``medgan generate`` writes for the same model and seed; the manifest has the columns of
:func:`~medgan_utils.hub.generate.build_synthetic_dataset`, so the unzipped folder loads with
:func:`~medgan_utils.data.synthetic.load_synthetic_dataset`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence

from medgan_utils.appkit.core import card_markdown
from medgan_utils.appkit.generation import LoadedModel, decode_pngs, image_labels
from medgan_utils.appkit.request import GenerationRequest
from medgan_utils.exports import png_bytes, synthetic_marks, synthetic_name, synthetic_stem

__all__ = ["file_name", "zip_name", "manifest_csv", "build_zip"]


def file_name(request: GenerationRequest, index: int) -> str:
    """``synthetic_<model>_seed<seed>_<i>.png``, the names ``medgan generate`` writes."""
    return synthetic_name(request.model_id, request.seed, index)


def zip_name(request: GenerationRequest) -> str:
    """``synthetic_<model>_seed<seed>_n<count>.zip``."""
    return f"{synthetic_stem(request.model_id, request.seed)}_n{request.count}.zip"


def manifest_csv(model: LoadedModel, request: GenerationRequest) -> str:
    """``file, model_id, seed, index, label`` (the columns of
    :func:`~medgan_utils.hub.generate.build_synthetic_dataset`) plus ``truncation`` and
    ``synthetic``; the unzipped folder loads with ``load_synthetic_dataset``."""
    from medgan_utils.data.synthetic import FIELDS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIELDS, "truncation", "synthetic"])
    trunc = "" if request.truncation is None else str(request.truncation)
    for i, label in enumerate(image_labels(model, request)):
        row = [file_name(request, i), request.model_id, request.seed, i, label or ""]
        writer.writerow([*row, trunc, "true"])
    return out.getvalue()


def build_zip(
    model: LoadedModel, request: GenerationRequest, pngs: Sequence[bytes], nrow: int = 8
) -> bytes:
    """A ZIP of the request's PNGs, ``grid.png``, ``manifest.csv`` and ``MODEL_CARD.md``.

    The same request gives the same bytes (fixed file dates, fixed order).
    """
    from medgan_utils.viz import make_grid

    if len(pngs) != request.count:
        raise ValueError(f"{len(pngs)} images for a request of {request.count}")
    members = {file_name(request, i): png for i, png in enumerate(pngs)}
    grid = make_grid(decode_pngs(pngs), nrow)
    marks = synthetic_marks(request.model_id, request.seed, truncation=request.truncation)
    members["grid.png"] = png_bytes(grid, marks)
    members["manifest.csv"] = manifest_csv(model, request).encode()
    members["MODEL_CARD.md"] = card_markdown(model.catalog, model.model_id).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".png") else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()
