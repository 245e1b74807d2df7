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

# Quality of the core path (plain Hamming -> float32, then with the asymmetric shortlist) and the
# confidence gate, on scifact through gRPC. Reports in bench/results/.
bench: $(STAMP)
	$(PY) bench/quality.py --data ../shared/data/scifact --embeddings minilm-l6-384 --hamming-pool-factor 1
	$(PY) bench/quality.py --data ../shared/data/scifact --embeddings minilm-l6-384 --hamming-pool-factor 4
	$(PY) bench/quality.py --data ../shared/data/scifact --embeddings mpnet-base-768 --hamming-pool-factor 1
	$(PY) bench/quality.py --data ../shared/data/scifact --embeddings mpnet-base-768 --hamming-pool-factor 4
	$(PY) bench/gate.py --data ../shared/data/scifact --embeddings minilm-l6-384 mpnet-base-768

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
