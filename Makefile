# Two entry points for a newcomer: `make demo` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch and torchvision come from PyPI together (a local CPU-only torch wheel does not load
# PyPI's torchvision); the CUDA build runs fine on CPU.
TORCH_PINS := "torch==2.14.*" "torchvision==0.29.*"
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test install bench clean

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

test: $(VENV)/.installed
	$(PY) -m ruff check screenstate tests benchmarks
	$(PY) -m mypy screenstate
	$(PY) -m pytest -q

clean:
	rm -rf demo_out .pytest_cache .mypy_cache .ruff_cache
