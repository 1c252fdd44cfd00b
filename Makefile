# Two entry points for a newcomer: `make demo` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch and torchvision come from PyPI together (a local CPU-only torch wheel does not load
# PyPI's torchvision); the CUDA build runs fine on CPU.
TORCH_PINS := "torch==2.14.*" "torchvision==0.29.*"
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test install bench clean sysdeps

# Debian packages the test suite drives for real: Chromium (review page, via Playwright's
# Python package; no browser download) and redis-server (the service's Redis store).
# Installed when running as root and missing; otherwise those tests skip with a reason.
SYS_PKGS := chromium redis-server
sysdeps:
	@missing=""; for p in $(SYS_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	    || echo "warning: could not install$$missing; tests that need them will skip"; \
	elif [ -n "$$missing" ]; then echo "note: not installed:$$missing (tests that need them will skip)"; fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e ".[dev]" $(TORCH_PINS)
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/screenstate classify-directory --root examples/recording \
	  --classes configs/demo_states.json --output demo_out/predictions.csv \
	  --report demo_out/report.html --cache demo_out/cache

test: $(VENV)/.installed sysdeps
	$(PY) -m ruff check screenstate tests benchmarks
	$(PY) -m mypy screenstate
	$(PY) -m pytest -q

clean:
	rm -rf demo_out .pytest_cache .mypy_cache .ruff_cache
