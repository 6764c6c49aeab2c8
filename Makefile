VENV ?= .venv
PY := $(VENV)/bin/python
# Ray: no usage reporting. (Ray's token auth stays on: compox_ray.server sets it up.)
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: install run test bench size-report clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

run: install
	$(VENV)/bin/compox-ray serve

test: install
	$(PY) -m pytest -ra $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks.run_all $(BENCH_ARGS)

size-report:
	@find compox_ray tests benchmarks -name '*.py' -exec wc -l {} + | sort -rn | awk '$$2 != "total" && $$1 > 400'

clean:
	rm -rf $(VENV) var .pytest_cache
