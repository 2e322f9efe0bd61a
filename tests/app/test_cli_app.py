"""``medgan app`` serves the page from the installed package, from any folder."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

from medgan_utils.appkit.page import APP
from medgan_utils.cli import main
from medgan_utils.cli.app import OPTIONS, PAGE, streamlit_command

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_serves_the_page_in_the_package():
    assert PAGE == APP and PAGE.is_file()
    assert PAGE.is_relative_to(Path(importlib.util.find_spec("medgan_utils").origin).parent)
    cmd = streamlit_command(8600, "0.0.0.0", ["--server.baseUrlPath=/gan"])
    assert cmd[1:5] == ["-m", "streamlit", "run", str(PAGE)]
    assert "--server.port=8600" in cmd and "--server.address=0.0.0.0" in cmd
    assert cmd[-1] == "--server.baseUrlPath=/gan"


def test_its_options_are_the_repository_config():
    """Streamlit reads .streamlit/config.toml only where it starts; `medgan app` passes the
    same settings as flags, and they must not drift apart."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())

    def text(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    flat = {f"{s}.{k}": text(v) for s, table in config.items() for k, v in table.items()}
    assert flat == OPTIONS


def test_bad_port_and_missing_streamlit_are_one_line_errors(capsys, monkeypatch):
    assert main(["app", "--port", "70000"]) == 2
    assert "--port must be a port number from 1 to 65535, got 70000" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name)
    )
    assert main(["app"]) == 2
    assert "pip install 'medgan-utils[app]'" in capsys.readouterr().err


def test_medgan_app_serves_from_an_empty_folder(tmp_path):
    port = _free_port()
    cmd = [sys.executable, "-m", "medgan_utils.cli", "app", "--port", str(port)]
    cmd += ["--address", "127.0.0.1", "--", "--server.fileWatcherType=none"]
    log = tmp_path.parent / f"{tmp_path.name}-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env={**os.environ, "MEDGAN_OFFLINE": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline, status = time.monotonic() + 120, ""
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    url = f"http://127.0.0.1:{port}/_stcore/health"
                    with urllib.request.urlopen(url, timeout=2) as r:
                        status = r.read().decode()
                        break
                except OSError:
                    time.sleep(0.5)
            assert status == "ok", f"no health answer; server log:\n{log.read_text()[-2000:]}"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                assert r.status == 200 and b"<html" in r.read().lower()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    assert "serving streamlit_app.py" in log.read_text()
    assert list(tmp_path.iterdir()) == []  # nothing written where it was started
