# Two commands on a fresh machine (see README):
#   make app    install everything into .venv and start the Streamlit app
#   make test   install everything into .venv and run every test (lint, types, unit, app, book)
VENV  ?= .venv
PY    := $(VENV)/bin/python
# An exact pin: pip finds this CPU build on the course machines; a looser spec can pull a
# multi-GB CUDA build. Override on your machine, e.g. make app TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0

.PHONY: install app test book clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install $(TORCH) "setuptools<81"
	$(PY) -m pip install -e ".[app,book,test]"
	$(PY) -c "import torch, medigan, medgan_utils; print('installed: torch', torch.__version__)"
	touch $@

app: install
	$(VENV)/bin/medgan app

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

book: install
	MEDGAN_QUICK=$${MEDGAN_QUICK:-0} $(VENV)/bin/jupyter-book build . --warningiserror --keep-going

clean:
	rm -rf _build $(VENV)
