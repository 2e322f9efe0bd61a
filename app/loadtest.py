"""Load tests of the Streamlit app: many sessions at once over Streamlit's own websocket
protocol, without a browser (test tooling beside the app, not in the library).

- :func:`protocol_session`: one session, as a browser opening a shared link ``/?model=...``:
  one script run, the images it shows counted (and fetched over HTTP), errors collected;
- :func:`load_test`: ``sessions`` of them at once against a server of
  :func:`driver.serve_app`, each with its own seed, with the server's peak memory.

    >>> with serve_app() as server:                                  # doctest: +SKIP
    ...     print(load_test(server, sessions=8, count=64).images_per_s)
"""

from __future__ import annotations

import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from driver import AppServer

__all__ = ["GRID_CAPTION", "SessionResult", "LoadResult", "protocol_session", "load_test"]


GRID_CAPTION = re.compile(r"^synthetic #\d+$")  # the grid's images (not the enlarged copy)


@dataclass
class SessionResult:
    """One protocol session: the images it got and how long it took."""

    images: int
    image_bytes: int
    seconds: float
    errors: list[str]


def protocol_session(
    url: str, query: str, timeout: float = 300.0, fetch_images: bool = True
) -> SessionResult:
    """One session over Streamlit's websocket protocol, as a browser opening ``/?query``.

    It asks for one script run, counts the images captioned ``synthetic #i``, collects
    exceptions and error messages, and (``fetch_images``) reads every image (inline ``data:``
    URLs, as the grid sends them, or over HTTP).
    """
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    start = time.perf_counter()
    urls, errors = [], []
    stream = url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
    protocols = [Subprotocol("streamlit")]
    with connect(stream, subprotocols=protocols, max_size=None, open_timeout=timeout) as ws:
        back = BackMsg()
        back.rerun_script.query_string = query
        back.rerun_script.page_script_hash = ""
        ws.send(back.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=timeout))
            kind = msg.WhichOneof("type")
            if kind == "script_finished":
                if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                    errors.append(f"script finished with status {msg.script_finished}")
                break
            if kind == "ref_hash":
                errors.append("the server sent a cached-message reference")
            if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
                continue
            element = msg.delta.new_element
            what = element.WhichOneof("type")
            if what == "imgs":
                urls += [i.url for i in element.imgs.imgs if GRID_CAPTION.match(i.caption)]
            elif what == "exception":
                errors.append(element.exception.message)
            elif what == "alert" and element.alert.format == Alert.ERROR:
                errors.append(element.alert.body)
    size = 0
    if fetch_images:
        for u in urls:
            inline = u.startswith("data:") or "://" in u  # the grid's images are inline
            with urllib.request.urlopen(u if inline else url + u, timeout=timeout) as r:
                size += len(r.read())
    return SessionResult(len(urls), size, time.perf_counter() - start, errors)


@dataclass
class LoadResult:
    sessions: int
    images: int  # images all sessions received
    seconds: float  # wall time, first connection to last image
    rss_before_mb: float | None
    peak_rss_mb: float | None  # the server's peak resident memory
    errors: list[str]
    results: list[SessionResult]

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def load_test(
    server: AppServer,
    sessions: int = 8,
    count: int = 64,
    model: str = "brain-mri-dcgan-64",
    first_seed: int = 1000,
) -> LoadResult:
    """``sessions`` concurrent sessions, each generating ``count`` images with its own seed
    (so none is served from another's cache); the server's peak memory is read after."""
    before = server.rss_mb()
    queries = [f"model={model}&n={count}&seed={first_seed + i}" for i in range(sessions)]
    start = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        results = list(pool.map(lambda q: protocol_session(server.url, q), queries))
    seconds = time.perf_counter() - start
    errors = [e for r in results for e in r.errors]
    errors += [f"a session got {r.images} images" for r in results if r.images != count]
    images = sum(r.images for r in results)
    return LoadResult(sessions, images, seconds, before, server.peak_rss_mb(), errors, results)
