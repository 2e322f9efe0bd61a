"""The book builds in quick mode with every notebook executed and warnings as errors, in a
Colab-like place: the package installed from a wheel into a fresh environment, the book's
pages copied without the rest of the repository."""

from __future__ import annotations

import json
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


def colab_like(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A Colab-like place to build the book in: returns its source folder and environment.

    The package is built into a wheel and installed into a fresh virtual environment, whose
    kernel spec ``python3`` runs the chapters; that environment sees this one's
    site-packages for the dependencies through a plain path in a ``.pth`` file, so the
    editable install of this checkout (an import hook in a ``.pth`` of its own) stays out of
    it. The source is a copy of the book's pages only (the configuration, ``book/``, the
    notebooks and their screenshots), without the package, the scripts or the recorded
    results beside them. A chapter that needs a file the wheel does not ship fails here,
    as it would on Colab.
    """
    wheels, venv, source = tmp / "wheels", tmp / "colab-env", tmp / "book"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    package = tmp / "package"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "medgan_utils", package / "medgan_utils", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, package / name)
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, package], check=True
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "test-env-dependencies.pth").write_text("\n".join(deps) + "\n")
    wheel = [str(w) for w in wheels.glob("medgan_utils-*.whl")]
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", site, *wheel], check=True
    )
    python = venv / "bin" / "python"
    kernel = tmp / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Python 3 (Colab-like)", "language": "python"}
    (kernel / "kernel.json").write_text(json.dumps(spec))
    source.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "book", source / "book")
    notebooks = source / "notebooks"
    shutil.copytree(ROOT / "notebooks" / "images", notebooks / "images")
    for nb in ROOT.glob("notebooks/*.ipynb"):
        shutil.copy2(nb, notebooks / nb.name)
    env = {"JUPYTER_PATH": str(tmp / "jupyter")}
    catalog = ROOT.parent / "shared" / "medigan" / "global.json"
    if catalog.exists():  # medigan's catalog, as if downloaded (Colab has internet)
        env["MEDGAN_CATALOG"] = str(catalog)
    return source, env


def test_the_colab_like_kernel_imports_the_wheel(tmp_path):
    source, env = colab_like(tmp_path)
    spec = json.loads((tmp_path / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    where = subprocess.run(
        [spec["argv"][0], "-c", "import medgan_utils, sys; print(medgan_utils.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=source / "notebooks",
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "colab-env"), where
    assert not (source / "notebooks" / "results").exists()
    assert not list(source.rglob("*.py"))


def test_book_builds_in_quick_mode(tmp_path):
    bin_dir = str(Path(sys.executable).parent)
    jb = shutil.which("jupyter-book", path=bin_dir) or shutil.which("jupyter-book")
    assert jb, "jupyter-book is not installed (pip install -e '.[book]')"
    source, colab_env = colab_like(tmp_path / "colab")
    env = {**os.environ, "MEDGAN_QUICK": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.update(colab_env)
    env.pop("MPLBACKEND", None)  # conftest's Agg would stop the kernels from emitting figures
    proc = subprocess.run(
        [jb, "build", str(source), "--path-output", str(tmp_path), "--warningiserror"],
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


def test_on_colab_chapter_8_loads_the_screenshots_its_figures_show():
    """Colab gets no copy of notebooks/images: chapter 8 loads the same files from the
    repository there, and the list it loads is the figures' list, each file present."""
    import re

    cells = json.loads((ROOT / "notebooks" / "08_the_app.ipynb").read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    shown = [n for t in text for n in re.findall(r"\{figure\} images/(\S+\.png)", t)]
    loader = next(t for t in text if "SCREENSHOTS = [" in t)
    listed = re.findall(r"'(app_\w+\.png)'|\"(app_\w+\.png)\"", loader)
    assert [a or b for a, b in listed] == shown and shown
    assert all((ROOT / "notebooks" / "images" / n).is_file() for n in shown)
    assert "raw.githubusercontent.com" in loader and '"google.colab" in sys.modules' in loader
