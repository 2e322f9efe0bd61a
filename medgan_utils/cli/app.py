"""``medgan app``: serve the course's Streamlit app from the installed package.

    medgan app [--port 8501] [--address localhost] [-- STREAMLIT_FLAG ...]

The page is ``medgan_utils/appkit/streamlit_app.py``, inside the package, so a ``pip
install 'medgan-utils[app]'`` (Colab, a server) serves it with no checkout. Streamlit reads
``.streamlit/config.toml`` only from the folder it starts in, so the repository's settings
are passed as flags (:data:`OPTIONS`; a test keeps the two equal). Flags after ``--`` go to
``streamlit run`` as they are (``medgan app -- --server.baseUrlPath=/gan``).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OPTIONS", "PAGE", "add_commands", "streamlit_command"]

# A path, not an import: nothing in the package imports the app layer (ARCHITECTURE.md).
PAGE = Path(__file__).resolve().parents[1] / "appkit" / "streamlit_app.py"

# The settings of the repository's .streamlit/config.toml, section.key -> value.
OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "server.maxUploadSize": "1",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "viewer",
    "runner.magicEnabled": "false",
    "logger.level": "info",
    "theme.base": "dark",
}


def streamlit_command(port: int, address: str, extra: Sequence[str] = ()) -> list[str]:
    """The ``python -m streamlit run PAGE ...`` command line that serves the app.

    Raises:
        ValueError: ``port`` outside 1..65535, or ``address`` empty.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"--port must be a port number from 1 to 65535, got {port!r}")
    if not address.strip():
        raise ValueError("--address must name an interface, e.g. localhost or 0.0.0.0")
    flags = [f"--{key}={value}" for key, value in OPTIONS.items()]
    flags += [f"--server.port={port}", f"--server.address={address}"]
    return [sys.executable, "-m", "streamlit", "run", str(PAGE), *flags, *extra]


def _app(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("streamlit") is None:
        print(
            "medgan app: streamlit is not installed; install the app extra: "
            "pip install 'medgan-utils[app]'",
            file=sys.stderr,
        )
        return 2
    extra = args.streamlit_args[1:] if args.streamlit_args[:1] == ["--"] else args.streamlit_args
    command = streamlit_command(args.port, args.address, extra)
    print(f"serving {PAGE.name} on http://{args.address}:{args.port} (Ctrl-C stops it)")
    return subprocess.run(command, check=False).returncode


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``medgan app``."""
    p = commands.add_parser(
        "app",
        help="serve the Streamlit app (pick a model, seed and count; see and download a grid)",
        description="Serve the course's Streamlit app from the installed package.",
    )
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument(
        "--address",
        default="localhost",
        help="interface to listen on (default localhost; 0.0.0.0 to serve others)",
    )
    p.add_argument(
        "streamlit_args",
        nargs=argparse.REMAINDER,
        help="after --, flags for `streamlit run`, e.g. -- --server.baseUrlPath=/gan",
    )
    p.set_defaults(func=_app)
