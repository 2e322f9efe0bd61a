"""generator.json as a typed record: round trip, the shipped files, malformed files."""

from __future__ import annotations

import json

import pytest

from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.record import GeneratorRecord
from medgan_utils.gan.zoo import (
    DEFAULT_MODEL,
    list_models,
    load_generator,
    load_record,
    model_path,
    save_generator,
)

CONFIG = DCGANConfig(image_size=32, width=8, latent_dim=16)


def test_round_trip_keeps_every_field_and_unknown_keys():
    record = GeneratorRecord(
        model_config=CONFIG,
        data="builtin-labelled",
        data_options={"n_subjects": 16, "seed": 1},
        classes=("healthy", "lesion"),
        n_images=512,
        epochs=2,
        train_config={"epochs": 2, "loss": "bce"},
        history=({"epoch": 1.0, "loss_d": 0.5}, {"epoch": 2.0, "loss_d": 0.4}),
        command=("medgan", "train", "--epochs", "2"),
        hardware="x86_64 CPU, 2 cores",
        precision="float32",
        wall_time_s=12.5,
        notes="a test",
        metrics={"fid": 80.5},
        extra={"licence": "CC-BY-4.0"},
    )
    as_json = json.loads(json.dumps(record.to_dict()))
    assert GeneratorRecord.from_dict(as_json) == record
    assert as_json["licence"] == "CC-BY-4.0" and as_json["classes"] == ["healthy", "lesion"]
    # a read-only mapping with the JSON's keys, for code written against the dict
    assert dict(record) == as_json and record["epochs"] == 2 and record.get("nope") is None
    assert record.model_config.conditional is False


def test_missing_fields_read_as_not_recorded():
    record = GeneratorRecord.from_dict({"model_config": {"image_size": 32}})
    assert record.model_config == DCGANConfig(image_size=32)
    assert record.data is None and record.classes == () and record.history == ()
    assert record.wall_time_s is None and record.extra == {}
    assert record.to_dict() == {"model_config": DCGANConfig(image_size=32).to_dict(), "classes": []}


@pytest.mark.parametrize("name", list(list_models()))
def test_the_shipped_files_parse_and_write_back_unchanged(name: str):
    path = model_path(name) / "generator.json"
    data = json.loads(path.read_text())
    record = GeneratorRecord.read(path)
    assert record.to_dict() == data and list(record.to_dict()) == list(data)
    assert record.extra == {}  # every key of the shipped files is a typed field
    assert record.model_config.image_size == 64 and record.data and record.command
    assert record.wall_time_s and record.wall_time_s > 0 and record.hardware
    assert record.epochs == len(record.history)
    assert load_record(name) == record


def test_load_generator_returns_the_record(tmp_path):
    folder = save_generator(Generator(CONFIG), CONFIG, tmp_path / "m", {"note": "test"})
    G, record = load_generator(folder)
    assert isinstance(record, GeneratorRecord) and G.config == record.model_config == CONFIG
    assert record.extra == {"note": "test"} and record["note"] == "test"
    assert load_record(folder / "generator.safetensors") == record
    assert load_generator(DEFAULT_MODEL)[1] == load_record(DEFAULT_MODEL)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_config": None}, "no model_config"),
        ({"model_config": {"image_size": 32, "depth": 3}}, "bad model_config"),
        ({"model_config": {"image_size": 33}}, "bad model_config"),
        ({"classes": "lesion"}, "classes must be a list of text"),
        ({"command": ["medgan", 3]}, "command must be a list of text"),
        ({"epochs": "60"}, "epochs must be a whole number"),
        ({"epochs": True}, "epochs must be a whole number"),
        ({"wall_time_s": "long"}, "wall_time_s must be a number"),
        ({"data": 3}, "data must be text"),
        ({"data_options": [1]}, "data_options must be an object"),
        ({"history": [1.0]}, "history must be a list of objects"),
    ],
)
def test_a_malformed_file_gives_a_data_error_naming_it(tmp_path, change, message):
    folder = save_generator(Generator(CONFIG), CONFIG, tmp_path / "m", {"data": "builtin"})
    path = folder / "generator.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(DataError, match=message) as err:
        GeneratorRecord.read(path)
    assert err.value.path == str(path)
    with pytest.raises(DataError, match=message):
        load_generator(folder)


def test_not_an_object_or_not_json(tmp_path):
    path = tmp_path / "generator.json"
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match="generator.json: expected a JSON object"):
        GeneratorRecord.read(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="generator.json: unreadable"):
        GeneratorRecord.read(tmp_path)  # a folder reads its generator.json
    with pytest.raises(DataError, match="elsewhere.json: unreadable"):
        GeneratorRecord.read(tmp_path / "elsewhere.json")  # missing
