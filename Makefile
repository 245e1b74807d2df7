# bitrag: `make demo` and `make test` work from a fresh clone (they create .venv and install).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
BITRAG := $(VENV)/bin/bitrag
STAMP  := $(VENV)/.installed

.PHONY: install proto proto-check demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU wheel first: a bare `torch` requirement would pull GBs of CUDA packages.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Regenerate the Python stubs (+ .pyi) from proto/ into client/bitrag/v1/.
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I proto --python_out=client --pyi_out=client --grpc_python_out=client proto/bitrag/v1/*.proto

demo: $(STAMP)
	$(PY) -m bitrag_server.demo

test: $(STAMP)
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/scifact_core.py --data ../shared/data/scifact

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
