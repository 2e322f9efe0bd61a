from __future__ import annotations

import json

from medgan_utils.cards import model_card, write_model_card

META = {
    "model_config": {"image_size": 64, "channels": 1, "width": 64},
    "train_config": {"epochs": 3, "lr_g": 0.0002},
    "data": "builtin",
    "data_options": {"n_subjects": 8},
    "n_images": 256,
    "command": ["medgan", "train", "--data", "builtin"],
    "hardware": "x86_64 CPU, 2 cores",
    "precision": "bfloat16",
    "wall_time_s": 12.5,
    "epochs": 3,
    "history": [{"epoch": 3.0, "loss_d": 0.5, "loss_g": 2.25}],
}


def test_card_states_data_command_hardware_and_scope(tmp_path):
    text = model_card("brain", META)
    assert text.startswith("# Model card: brain")
    assert "`medgan train --data builtin`" in text
    assert "x86_64 CPU, 2 cores; precision bfloat16" in text
    assert "12.5 s for 3 epochs" in text
    assert "not patient data" in text and "Out of scope" in text
    assert "loss_d 0.5, loss_g 2.25" in text
    assert "Not evaluated yet" in text
    scored = model_card("brain", META, {"domain FID": "23.1 (real-vs-real floor 4.2)"})
    assert "- domain FID: 23.1 (real-vs-real floor 4.2)" in scored


def test_write_model_card_reads_generator_json(tmp_path):
    (tmp_path / "generator.json").write_text(json.dumps(META))
    path = write_model_card(tmp_path, "mine")
    assert path.read_text() == model_card("mine", META)
