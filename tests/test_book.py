"""The book builds in quick mode with every notebook executed and warnings as errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def _broken_links(html: Path) -> list[str]:
    """Internal ``href``/``src`` targets of the built pages that do not exist."""
    import re
    from urllib.parse import unquote, urlparse

    broken = []
    for page in html.rglob("*.html"):
        if page.relative_to(html).parts[0] in ("_static", "_sources"):  # theme templates
            continue
        for target in re.findall(r'(?:href|src)="([^"]+)"', page.read_text()):
            url = urlparse(target)
            if url.scheme or target.startswith(("#", "mailto:", "//")) or not url.path:
                continue
            if not (page.parent / unquote(url.path)).resolve().exists():
                broken.append(f"{page.relative_to(html)} -> {target}")
    return broken


def test_every_notebook_is_in_the_toc():
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.glob("notebooks/*.ipynb")}
    assert notebooks and notebooks <= set(_toc_files())


def test_book_builds_in_quick_mode(tmp_path):
    bin_dir = str(Path(sys.executable).parent)
    jb = shutil.which("jupyter-book", path=bin_dir) or shutil.which("jupyter-book")
    assert jb, "jupyter-book is not installed (pip install -e '.[book]')"
    env = {**os.environ, "MEDGAN_QUICK": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MPLBACKEND", None)  # conftest's Agg would stop the kernels from emitting figures
    proc = subprocess.run(
        [jb, "build", str(ROOT), "--path-output", str(tmp_path), "--warningiserror"],
        capture_output=True,
        text=True,
        env=env,
    )
    log = proc.stdout[-6000:] + proc.stderr[-6000:]
    assert proc.returncode == 0, log
    html = tmp_path / "_build" / "html"
    for page in _toc_files():
        assert (html / f"{page}.html").exists(), page
    assert not _broken_links(html), "broken internal links"
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    owner_name = repo["url"].removeprefix("https://github.com/")
    for notebook in ROOT.glob("notebooks/*.ipynb"):
        chapter = (html / "notebooks" / f"{notebook.stem}.html").read_text()
        assert "Traceback" not in chapter, notebook.name
        assert "produced in quick mode" in chapter, notebook.name
        assert "<img" in chapter, f"{notebook.name} shows no figure"
        # launch buttons open this chapter from the configured repository and branch
        path = f"notebooks/{notebook.name}"
        binder = f"https://mybinder.org/v2/gh/{owner_name}/{repo['branch']}?urlpath=lab/tree/{path}"
        colab = (
            f"https://colab.research.google.com/github/{owner_name}/blob/{repo['branch']}/{path}"
        )
        assert binder in chapter and colab in chapter, notebook.name


def test_requirements_txt_installs_the_package_with_pinned_torch():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert "torch==2.13.0" in lines  # the same pin as the Makefile
    assert "setuptools<81" in lines  # medigan 1.0.0 imports pkg_resources
    assert ".[app,book]" in lines  # the package itself, with the app and book extras
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH ?= torch==2.13.0" in makefile


def test_every_dashboard_notebook_executes(monkeypatch):
    """The standalone Voila dashboards run top to bottom (in quick mode, as the book's
    chapters in CI) and display their widget."""
    import nbclient
    import nbformat

    monkeypatch.setenv("MEDGAN_QUICK", "1")  # the kernels inherit it

    dashboards = sorted((ROOT / "notebooks" / "dashboards").glob("*.ipynb"))
    assert dashboards
    for path in dashboards:
        nb = nbformat.read(path, as_version=4)
        nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": path.parent}}
        ).execute()
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        widgets = [
            o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert widgets, f"{path.name} displays no widget"
