from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from medgan_utils.cli import main


def _png_folder(root: Path) -> Path:
    for cls, value in (("glioma", 200), ("normal", 60)):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            img = np.full((20, 30), value, np.uint8)
            Image.fromarray(img).save(root / cls / f"img{i}.png")
    (root / "normal" / "notes.txt").write_text("not an image")
    return root


def test_data_info_text(tmp_path, capsys):
    folder = _png_folder(tmp_path / "mri")
    assert main(["data", "info", str(folder), "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "images      6 at 32x32" in out
    assert "glioma: 3, normal: 3" in out
    assert "skipped     1 file(s)" in out


def test_data_info_json_via_console_script(tmp_path):
    folder = _png_folder(tmp_path / "mri")
    script = Path(sys.executable).with_name("medgan")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "medgan_utils.cli"]
    proc = subprocess.run(
        [*cmd, "data", "info", str(folder), "--json"], capture_output=True, text=True, check=True
    )
    info = json.loads(proc.stdout)
    assert info["n_images"] == 6 and info["image_size"] == 64
    assert info["classes"] == {"glioma": 3, "normal": 3}
    assert sum(info["skipped"].values()) == 1
    # 200 -> +0.569, 60 -> -0.529 on the fixed 8-bit scale
    assert abs(info["intensity"]["max"] - (200 / 127.5 - 1)) < 1e-3


def test_data_info_names_bad_input(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "no such file" in err
    (tmp_path / "empty").mkdir()
    assert main(["data", "info", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err


def test_data_info_builtin_labelled(capsys):
    assert main(["data", "info", "builtin-labelled", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "classes     lesion:" in out and "group site" in out
