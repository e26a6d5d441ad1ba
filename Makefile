# Gatehouse: `make run` serves the hub, `make test` runs the suite. Both set everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run worker test test-slow test-faults soak bench-pg-load test-gpu lint format bench-download bench-head bench-upload bench-gate bench-previews bench-previews-gpu bench-xet bench-cpu bench-s3-download bench-s3-concurrent bench-s3-upload bench-xet-s3 bench-scale clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

## run: migrate and serve on $${HOST:-127.0.0.1}:$${PORT:-8000} with gunicorn plus a local Celery worker,
## kept running by scripts/supervise.py (a crashed process is restarted; Ctrl-C stops all in 10 s).
run: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py optional_parts
	$(PY) scripts/supervise.py Procfile

## test: the whole suite, minus tests marked slow or gpu.
test: $(DEV_STAMP)
	scripts/ensure-chromium
	scripts/ensure-git-lfs
	scripts/ensure-old-hub-client
	$(PY) manage.py makemigrations --check --dry-run -v0
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

## test-slow: soak and large-file tests that `make test` skips.
test-slow: $(DEV_STAMP)
	$(PY) -m pytest -m slow

## test-faults: the fault-injection tests (kill -9 at named crash points, then the invariants); part of test-slow.
test-faults: $(DEV_STAMP)
	$(PY) -m pytest -m "not gpu" tests/chaos

## soak: make run's configuration under half its measured capacity (or RATE req/s) for MINUTES (60); fails on any 5xx, death or RSS growth > 10% after WARMUP seconds (300; the per-process caches fill until minute 12-15, bench/soak.py).
soak: $(DEV_STAMP)
	$(PY) bench/soak.py --minutes $${MINUTES:-60} --rate $${RATE:-0} --warmup $${WARMUP:-300}

## bench-pg-load: PostgreSQL (DATABASE_URL) at half its measured capacity for MINUTES (5), 64 connections; fails on any error, p99 HEAD /resolve >= 50 ms or small commit >= 500 ms.
bench-pg-load: $(DEV_STAMP)
	$(PY) bench/pg_load.py --minutes $${MINUTES:-5}

## test-gpu: tests that need a CUDA device (run them on a GPU machine).
test-gpu: $(DEV_STAMP)
	$(PY) -m pytest -m gpu

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench-download: $(DEV_STAMP)
	$(PY) bench/download_throughput.py

bench-head: $(DEV_STAMP)
	$(PY) bench/resolve_head_rps.py

## bench-upload: 1 GiB LFS upload vs an nginx PUT (needs nginx; bench-head needs ab from apache2-utils).
bench-upload: $(DEV_STAMP)
	$(PY) bench/lfs_upload_throughput.py

## bench-xet: 1 GiB through Xet vs LFS, and a 1%-changed Xet re-upload vs the first upload.
bench-xet: $(DEV_STAMP)
	$(PY) bench/xet_vs_lfs.py

## bench-s3-download: 1 GiB through the S3 backend's redirect vs a direct presigned GET (SeaweedFS).
bench-s3-download: $(DEV_STAMP)
	$(PY) bench/s3_download.py

## bench-s3-concurrent: 8 clients downloading 1 GiB each at once through the S3 redirect vs 8 direct presigned GETs.
bench-s3-concurrent: $(DEV_STAMP)
	$(PY) bench/s3_download.py --clients 8 --rounds 1

## bench-s3-upload: 1 GiB LFS multipart upload to S3 through Gatehouse (verification included) vs plain part PUTs.
bench-s3-upload: $(DEV_STAMP)
	$(PY) bench/s3_lfs_upload.py

## bench-xet-s3: bench-xet on the S3 backend (SeaweedFS).
bench-xet-s3: $(DEV_STAMP)
	$(PY) bench/xet_vs_lfs.py --s3

## bench-gate: HEAD /resolve on a gated repo for an approved user vs an ungated repo, 100,000 requests in the DB.
bench-gate: $(DEV_STAMP)
	$(PY) bench/gate_check_rps.py

## bench-previews: the preview service's own overhead on the CPU (needs REDIS_URL).
bench-previews: $(DEV_STAMP)
	$(PY) bench/preview_overhead.py

## bench-previews-gpu: preview throughput vs plain diffusers, SD 1.5-sized at 512x512 (needs CUDA).
bench-previews-gpu: $(DEV_STAMP)
	$(PY) bench/preview_gpu.py

## bench-scale: p50/p99 of list_models, tree, queue and discussion pages on the data-at-scale set (DATABASE_URL: PostgreSQL; filled on first run).
bench-scale: $(DEV_STAMP)
	$(PY) bench/scale_pages.py

## bench-cpu: server CPU per anonymous GET of a card or pull request diff built to be expensive, first and later.
bench-cpu: $(DEV_STAMP)
	$(PY) bench/cpu_per_get.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
