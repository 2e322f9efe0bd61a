"""What a trained generator's ``generator.json`` records, as a typed, frozen record.

``generator.json`` sits beside ``generator.safetensors`` (:mod:`medgan_utils.gan.zoo`). The
training callbacks write the network's configuration, the classes, the training settings
and the loss history; :func:`medgan_utils.gan.runs.train_run` adds the provenance (the
command, the hardware, the precision, the wall time...). :class:`GeneratorRecord` is the
one reader of that file: :func:`~medgan_utils.gan.zoo.load_generator` returns it beside the
generator, and the model card, the catalog and the app read its attributes.

For code written against the JSON as a dict (``meta["epochs"]``, ``meta.get("data")``), a
record is also a read-only mapping with the keys of :meth:`GeneratorRecord.to_dict`. New
code reads the attributes, which are typed and checked when the file is read.

Example:
    >>> from medgan_utils.gan.zoo import DEFAULT_MODEL, load_generator
    >>> G, record = load_generator(DEFAULT_MODEL)  # doctest: +SKIP
    >>> record.data, record.epochs, record.model_config.image_size  # doctest: +SKIP
    ('builtin', 60, 64)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.weights import read_json

__all__ = ["GeneratorRecord", "RECORD_FILE"]

RECORD_FILE = "generator.json"

# the known keys by the type of their value (numbers: int, or int or float; never bool)
_TEXT = ("data", "only_class", "hardware", "precision", "notes")
_COUNTS = ("epochs", "n_images")
_TABLES = ("data_options", "train_config", "metrics", "distributed")
_LISTS = ("classes", "command")
# the order of the keys in the files `medgan train` writes
_ORDER = (
    "data",
    "classes",
    "only_class",
    "epochs",
    "train_config",
    "history",
    "command",
    "hardware",
    "precision",
    "n_images",
    "data_options",
    "wall_time_s",
    "distributed",
    "notes",
    "metrics",
)


@dataclass(frozen=True)
class GeneratorRecord(Mapping[str, Any]):
    """The contents of a generator's ``generator.json``.

    Every field but ``model_config`` may be missing from a file (an older run, a test's
    tiny model): text and numbers are then ``None``, collections empty.

    Attributes:
        model_config: the network (:class:`~medgan_utils.gan.models.DCGANConfig`).
        data: the training data source as ``medgan train --data`` takes it (``"builtin"``,
            ``"builtin-labelled"``, a folder...). data_options: the options it was loaded
            with (``{"n_subjects": 128, "seed": 1}``).
        classes: class names of a conditional generator, in label order (empty:
            unconditional). only_class: the one class an unconditional generator was
            trained on (``--class lesion``), if any.
        n_images: training images. epochs: epochs trained.
        train_config: the :class:`~medgan_utils.gan.train.TrainConfig` as a dict.
        history: one dict of logged means per epoch (``loss_d``, ``loss_g``, ...).
        command: the command line that trained it. hardware, precision: where and how.
        wall_time_s: training wall time in seconds. notes: free text.
        distributed: the processes that trained it last (``world_size``, ``backend``:
            ``"nccl"``, ``"gloo"`` or None for one process, ``per_rank_batch``).
        metrics: evaluation results recorded with the model (name -> value).
        extra: any other key of the file (``authors``, ``licence``...), kept as is.

    Example:
        >>> r = GeneratorRecord.from_dict({"model_config": {"image_size": 32}, "data": "builtin"})
        >>> r.model_config.image_size, r.data, r.classes, r["data"]
        (32, 'builtin', (), 'builtin')
    """

    model_config: DCGANConfig
    data: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    only_class: str | None = None
    n_images: int | None = None
    epochs: int | None = None
    train_config: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, float], ...] = field(default=(), repr=False)
    command: tuple[str, ...] = ()
    hardware: str | None = None
    precision: str | None = None
    wall_time_s: float | None = None
    distributed: dict[str, Any] = field(default_factory=dict)
    notes: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, source: str | Path = RECORD_FILE) -> GeneratorRecord:
        """Check and type the JSON of a ``generator.json``.

        Args:
            d: the parsed JSON. source: the file it came from, for error messages.

        Raises:
            DataError: not an object, no or a bad ``model_config``, or a known key whose
                value has the wrong type; the message names ``source`` and the key.
        """

        def bad(key: str, expected: str) -> DataError:
            return DataError(source, f"{key} must be {expected}, got {d[key]!r}")

        if not isinstance(d, dict):
            raise DataError(source, f"expected a JSON object, got {type(d).__name__}")
        if not isinstance(d.get("model_config"), dict):
            raise DataError(source, "no model_config object (the generator's DCGANConfig)")
        try:
            config = DCGANConfig.from_dict(d["model_config"])
        except (TypeError, ValueError) as err:
            raise DataError(source, f"bad model_config ({err})") from err
        given = {k: v for k, v in d.items() if v is not None}
        kwargs: dict[str, Any] = {"model_config": config}
        for key in _TEXT:
            if key in given:
                if not isinstance(given[key], str):
                    raise bad(key, "text")
                kwargs[key] = given[key]
        for key in _COUNTS:
            if key in given:
                if isinstance(given[key], bool) or not isinstance(given[key], int):
                    raise bad(key, "a whole number")
                kwargs[key] = given[key]
        if "wall_time_s" in given:
            if isinstance(given["wall_time_s"], bool) or not isinstance(
                given["wall_time_s"], int | float
            ):
                raise bad("wall_time_s", "a number of seconds")
            kwargs["wall_time_s"] = float(given["wall_time_s"])
        for key in _TABLES:
            if key in given:
                if not isinstance(given[key], dict):
                    raise bad(key, "an object")
                kwargs[key] = dict(given[key])
        for key in _LISTS:
            if key in given:
                value = given[key]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise bad(key, "a list of text")
                kwargs[key] = tuple(value)
        if "history" in given:
            value = given["history"]
            if not isinstance(value, list) or not all(isinstance(h, dict) for h in value):
                raise bad("history", "a list of objects (one per epoch)")
            kwargs["history"] = tuple(dict(h) for h in value)
        known = {"model_config", *_TEXT, *_COUNTS, "wall_time_s", *_TABLES, *_LISTS, "history"}
        kwargs["extra"] = {k: v for k, v in d.items() if k not in known}
        return cls(**kwargs)

    @classmethod
    def read(cls, path: str | Path) -> GeneratorRecord:
        """Read and check a ``generator.json`` (or the one in the folder ``path``).

        Raises:
            DataError: missing, not JSON, or not a generator record; the message names the
                file.
        """
        path = Path(path)
        if path.is_dir():
            path = path / RECORD_FILE
        record, _ = read_json(path, lambda d: cls.from_dict(d, path), "model config")
        return record

    def to_dict(self) -> dict[str, Any]:
        """The JSON of this record: what :meth:`from_dict` reads back to an equal record.

        Fields that are not recorded (``None``, empty collections) are left out, except
        ``classes``, which every generator records; ``extra`` keys come last.
        """
        out: dict[str, Any] = {"model_config": self.model_config.to_dict()}
        for key in _ORDER:
            value = getattr(self, key)
            if key == "classes" or (value is not None and value != () and value != {}):
                out[key] = list(value) if isinstance(value, tuple) else value
        if "history" in out:
            out["history"] = [dict(h) for h in self.history]
        return {**out, **self.extra}

    # -- read-only mapping over to_dict(), for code written against the JSON dict -----------

    @cached_property
    def _json(self) -> dict[str, Any]:
        return self.to_dict()

    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)
