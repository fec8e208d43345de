# The two commands a newcomer needs: `make run` and `make test`. Each creates .venv from
# the lock file when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
UV := .tools/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
FLASK := $(PY) -m flask --app screening

TRANSLATIONS := screening/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
PYBABEL := PYTHONPATH=. .venv/bin/pybabel

.PHONY: run test lint check typecheck bench help messages translations

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(UV):
	$(PYTHON) -m pip install -q --disable-pip-version-check --root-user-action=ignore --target .tools 'uv>=0.13,<0.14'

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@touch $@

instance/config.py:
	@mkdir -p instance
	@$(PYTHON) -c 'import secrets; print("# Written by make run on first use. Keep it out of git.\nSECRET_KEY = " + repr(secrets.token_urlsafe(48)))' > $@
	@chmod 600 $@
	@echo "Wrote a new random SECRET_KEY to $@"

# The data keys that encrypt health data in the database (see README, Keys). Written once,
# mode 0600, never replaced: losing this file loses every encrypted answer and name.
instance/keys.json: | .venv/.synced
	@mkdir -p instance
	@$(PY) -m screening.crypto $@

# The app reads compiled catalogues (.mo, not committed); they are rebuilt when a .po changes.
%.mo: %.po .venv/.synced
	$(PYBABEL) -q compile -i $< -o $@

translations: $(COMPILED)  ## compile the translation catalogues (.po -> .mo) the app reads

messages: .venv/.synced  ## extract the patient text into messages.pot and update every .po
	$(PYBABEL) -q extract -F $(TRANSLATIONS)/babel.cfg -k N_ --no-wrap --sort-by-file --add-location=file \
		--project screening -o $(TRANSLATIONS)/messages.pot .
	$(PYBABEL) -q update --no-wrap --ignore-obsolete -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)

run: .venv/.synced instance/config.py instance/keys.json $(COMPILED)  ## migrate and serve http://127.0.0.1:5000 on SQLite in instance/
	SCREENING_ENVIRONMENT=development $(FLASK) db upgrade
	SCREENING_ENVIRONMENT=development $(FLASK) clinic sample
	SCREENING_ENVIRONMENT=development $(FLASK) run --host 127.0.0.1 --port 5000

# COVERAGE=0 runs the same suite without measuring coverage (about a third faster on the
# CPU-bound tests). .ci/run sets it for its PostgreSQL pass only: the SQLite pass runs the
# same code and keeps the coverage gates.
COVERAGE ?= 1

# worksteal: a worker that runs out of tests takes some of the other's, so the run does not
# end with one core idle while the other finishes a long queue.
XDIST := -n auto --dist worksteal

test: .venv/.synced $(COMPILED)  ## run the whole suite (SQLite, or PostgreSQL when DATABASE_URL is set)
ifeq ($(COVERAGE),0)
	$(PY) -m pytest $(XDIST)
else
	$(PY) -m pytest $(XDIST) --cov=screening --cov-branch --cov-report=
	$(PY) -m coverage report --include='screening/scoring/*' --fail-under=100 --show-missing --skip-covered
	$(PY) -m coverage report --fail-under=85 --skip-covered
endif

lint: .venv/.synced  ## ruff
	$(PY) -m ruff check screening tests

# bandit reads [tool.bandit] in pyproject.toml (what it skips, and why); each "# nosec" in
# the code says why on its line (tests/test_dependencies.py checks). Any finding fails: no severity is ignored.
check: .venv/.synced  ## static security check of the package (bandit)
	$(PY) -m bandit -c pyproject.toml -r screening -q

# mypy reads [tool.mypy] in pyproject.toml: the whole package, function bodies included,
# and screening/scoring/ strict. Any error fails; the code carries no "type: ignore" without
# an error code, and mypy reports any that is no longer needed.
typecheck: .venv/.synced  ## static type check of the package (mypy; strict on screening/scoring/)
	$(PY) -m mypy

bench: .venv/.synced $(COMPILED)  ## benchmarks that print figures (several minutes)
	$(PY) tests/benchmarks/bench_scoring.py
	$(PY) tests/benchmarks/bench_queue.py
	$(PY) tests/benchmarks/bench_submit.py
	$(PY) tests/benchmarks/bench_server.py
	$(PY) tests/benchmarks/bench_journey.py
	$(PY) tests/benchmarks/bench_summary_pages.py
	$(PY) tests/benchmarks/bench_summary_pdf.py
