"""Fixtures of the data tests: a local HTTP server on 127.0.0.1 that serves a folder, counts
requests and can cut a response short (the public-dataset downloads are tested against it)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class FileServer:
    """A folder served at ``url``; ``hits`` lists the paths requested, ``cut_after`` (bytes)
    makes every response promise the whole file but close after that many, and
    ``redirects`` answers a path with a redirect."""

    folder: Path
    url: str = ""
    hits: list[str] = field(default_factory=list)
    cut_after: int | None = None
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, served: FileServer, **kwargs) -> None:
        self.served = served
        super().__init__(*args, directory=str(served.folder), **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.served.hits.append(self.path)
        if self.path in self.served.redirects:
            self.send_response(302)
            self.send_header("Location", self.served.redirects[self.path])
            self.end_headers()
            return None
        if self.served.cut_after is None:
            return super().do_GET()
        data = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: self.served.cut_after])
        self.close_connection = True

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """A local HTTP server over ``tmp_path / "served"``, stopped after the test."""
    served = FileServer(tmp_path / "served")
    served.folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, served=served))
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_server: FileServer) -> FileServer:
    """A fresh ``MEDGAN_HOME``, downloads on, and ``MEDGAN_DATASETS_URL`` at the local server."""
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDGAN_OFFLINE", raising=False)
    monkeypatch.setenv("MEDGAN_DATASETS_URL", file_server.url)
    return file_server
