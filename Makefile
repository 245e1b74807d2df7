# bitrag: `make demo` and `make test` work from a fresh clone (they create .venv and install).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
BITRAG := $(VENV)/bin/bitrag
# What each target installs, with a stamp each, so `make test` after `make demo` adds only the rest:
#   STAMP      the runtime: server + local embedder (`make demo`, `make go-example`), ~1.9 GB
#   UI_STAMP   + the ui extra (`make ui`)
#   DEV_STAMP  + the dev extra: tests, benchmarks, migration, Milvus standalone, protoc (~3 GB)
STAMP     := $(VENV)/.installed
UI_STAMP  := $(VENV)/.installed-ui
DEV_STAMP := $(VENV)/.installed-dev
# torch comes from PyTorch's CPU index: a bare `torch` (pulled in by sentence-transformers) or
# `torch==X` from PyPI is the CUDA build on Linux x86_64 (GBs of nvidia-* packages). `--index-url`
# (not --extra-index-url) so an unreachable CPU index fails instead of falling back to PyPI's CUDA
# wheel; `==X` without `+cpu` matches the CPU index's `X+cpu` on Linux and its plain `X` on macOS.
# `--no-deps`: only torch itself comes from that index; its dependencies come from the usual index
# with the next install (which resolves them as torch's requirements). Where pip is configured with
# a local wheel directory holding the CPU wheel (find-links), that one is taken after the index
# lookup fails. Checked with `pip download --no-deps torch==2.13.0 --index-url <cpu index>`.
# Same form as deploy/Dockerfile.
TORCH_VERSION   ?= 2.13.0
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
# The Node client's dependencies, exactly as locked (npm registry only). Defined before the rules
# that list it: make expands prerequisites when it reads a rule.
NODE_STAMP := clients/node/node_modules/.package-lock.json

.PHONY: install install-dev proto proto-check demo ui test browser node go-example bench bench-1m bench-10m bench-real clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --no-deps "torch==$(TORCH_VERSION)" --index-url $(TORCH_INDEX_URL)
	$(PIP) install -q -e ".[server,local]"
	touch $(STAMP)

$(UI_STAMP): $(STAMP)
	$(PIP) install -q -e ".[server,local,ui]"
	touch $(UI_STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) install -q -e ".[dev]"
	touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Regenerate the Python stubs (+ .pyi) from proto/ into client/bitrag/v1/.
proto: $(DEV_STAMP) $(NODE_STAMP)
	$(PY) -m grpc_tools.protoc -I proto --python_out=client --pyi_out=client --grpc_python_out=client proto/bitrag/v1/*.proto
	cp proto/bitrag/v1/bitrag.proto clients/node/proto/bitrag/v1/bitrag.proto
	rm -rf clients/node/src/gen && cd clients/node && npm run --silent gen

$(NODE_STAMP): clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# A Go client generated from the proto as it is (Debian's Go 1.19 + grpc-go), run against a fresh
# server. Not part of `make test`: it installs ~300 MB of Go packages.
go-example: $(STAMP)
	bash clients/go/run_example.sh

demo: $(STAMP)
	$(PY) -m bitrag_server.demo

# The web UI with its own server on the embedded default (Milvus Lite in ./bitrag-data); Ctrl-C stops both.
ui: $(UI_STAMP)
	$(BITRAG) ui --serve --data-dir ./bitrag-data

# The UI's browser test drives Debian's Chromium (never a browser download); CI starts bare.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# Lint: ruff and mypy as configured in pyproject.toml (generated stubs excluded); `make test` runs it first.
.PHONY: lint
lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

test: $(DEV_STAMP) lint browser $(NODE_STAMP)
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
	$(PY) -m pytest

# Benchmarks (reports in bench/results/; bench/README.md): scifact quality per mode, the gate,
# the synthetic generator's fidelity, latency/memory/baselines at 10k and 100k on both backends,
# the Ask and semantic-cache measurements, and migration (import + shadow vs Milvus and Chroma).
# bench-1m / bench-10m / bench-real are long runs (2 h / 3-4 h / 2 h).
bench: $(DEV_STAMP)
	for e in minilm-l6-384 mpnet-base-768; do for t in sign sq2 sq4; do \
	  $(BITRAG) bench quality --data ../shared/data/scifact --embeddings $$e --tier $$t --oversamples 1 2 4 8 \
	    --name quality_scifact_$${e}_lite_$$t || exit 1; done; done
	$(BITRAG) bench gate --data ../shared/data/scifact --embeddings minilm-l6-384 mpnet-base-768
	$(BITRAG) bench synth --fidelity
	$(BITRAG) bench scale --n 5k 10k 100k --backend lite --queries 200
	$(BITRAG) bench scale --n 10k 100k --backend standalone
	$(PY) bench/user_vectors.py --n 20000 --dim 256 --queries 200
	$(PY) bench/ask.py --docs 1000 --questions 200
	$(PY) bench/semantic_cache.py
	$(PY) bench/float_fetch.py --rows 100000 --dim 768
	$(PY) bench/migration.py

bench-1m: $(DEV_STAMP)
	$(BITRAG) bench scale --n 1M --backend standalone --keep
	$(BITRAG) bench scale --n 1M --backend lite --queries 200

# The real corpus (Debian documentation packages, ~222k MiniLM chunks; ~1.5 h to embed here, cached
# in bench/.work/debian-docs) and its point in the scale benchmark beside the synthetic N.
bench-real: $(DEV_STAMP)
	$(BITRAG) bench corpus
	$(BITRAG) bench scale --real-data bench/.work/debian-docs --n 28k 222394 --backend lite --queries 500 \
	  --name scale_real_lite

bench-10m: $(DEV_STAMP)
	$(BITRAG) bench scale --n 10M --backend standalone --queries 200 --concurrency-queries 32 --keep

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
