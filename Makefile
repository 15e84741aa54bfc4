# Two commands matter: `make demo` (set up and run the product) and `make test` (set up and run
# every check: the full gate, what CI runs). Both create .venv and install pinned dependencies on
# first use. `make test-fast` is for the edit-test loop only: SQLite, no browser, no slow scenarios.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_WORKERS ?= 2
# xdist hands out one test at a time (instead of a quarter of the suite per worker up front), and the suite
# puts its slow tests first in each group (hotline/conftest.py): measured on a full PostgreSQL run, the default
# chunks left one worker idle for the last third of the run while the other ran the long scenarios.
PYTEST_XDIST = -n $(PYTEST_WORKERS) --maxschedchunk 1
export PIP_DISABLE_PIP_VERSION_CHECK = 1
# Some machines set PYTHONDONTWRITEBYTECODE=1: then every test process (each xdist worker, each worker or demo
# process a test starts, both phases) compiles and assert-rewrites every module again. An empty value turns
# it off for the commands run here, so the second process reads what the first one wrote.
export PYTHONDONTWRITEBYTECODE =

.PHONY: demo test test-fast install chromium pdf-libs lint typecheck test-databases test-sqlite test-postgres messages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade "pip>=23"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

# The demo needs only what the product runs on (no test tools): a shorter first install.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade "pip>=23"
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $@

install: $(VENV)/.installed pdf-libs

demo: $(VENV)/.installed-run pdf-libs
	HOTLINE_DEBUG=true $(BIN)/hotline demo

lint: install
	$(BIN)/ruff check hotline bench

typecheck: install
	$(BIN)/mypy hotline

test-sqlite: install
	DATABASE_URL= $(BIN)/pytest -q $(PYTEST_XDIST)

# The PostgreSQL phase runs the tests that use the test database (--database-tests-only, hotline/conftest.py): the
# others (parsers, the PDQ index, the architecture checks, commands on SQLite files of their own) run the same
# whatever DATABASE_URL says, and the SQLite phase has run them. One marked `vendor_dependent` runs in both.
test-postgres: install
	@if $(BIN)/python -m hotline.lib.pgcheck "$(PG_URL)"; then \
	  DATABASE_URL="$(PG_URL)" $(BIN)/pytest -q $(PYTEST_XDIST) --database-tests-only; \
	elif [ "$$CI" = "true" ]; then \
	  echo "PostgreSQL at $(PG_URL) is not reachable; under CI that is a failure." >&2; exit 1; \
	else \
	  echo "SKIPPED the PostgreSQL run: nothing answers at $(PG_URL) (set PG_URL to point at one)." >&2; \
	fi

# The real-browser tests drive Debian's Chromium (never a browser downloaded by a test tool): install it
# when it is missing and this user may (root, or sudo without a password); otherwise say how.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  echo "installing Debian's chromium for the real-browser tests ..."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium) >/dev/null 2>&1 \
	    || echo "could not install chromium: the browser tests will skip (and fail under CI=true)" >&2; \
	else \
	  echo "chromium is missing: 'apt-get install chromium' (the browser tests skip; under CI=true they fail)" >&2; \
	fi

# The annual and transparency reports are typeset to PDF by WeasyPrint, which loads Debian's pango (and
# the DejaVu fonts) at run time: install them when missing and this user may; otherwise say how.
PDF_DEBS = libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
pdf-libs:
	@if ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so.0' && ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' \
	  && fc-list 2>/dev/null | grep -qi 'DejaVuSans'; then :; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  echo "installing Debian's $(PDF_DEBS) for the PDF reports ..."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(PDF_DEBS)) >/dev/null 2>&1 \
	    || echo "could not install $(PDF_DEBS): PDF reports are refused with a message (their tests skip; under CI=true they fail)" >&2; \
	else \
	  echo "pango or the DejaVu fonts are missing: 'apt-get install $(PDF_DEBS)' (PDF reports are refused with a message until then)" >&2; \
	fi

# The type check runs beside the SQLite phase (make -j2): that phase leaves a core idle while its tests wait on the
# processes they start, and mypy's minute of CPU fits there. The two database phases run one after the other.
test: lint chromium
	@$(MAKE) --no-print-directory -j2 typecheck test-databases

test-databases: install
	@$(MAKE) --no-print-directory test-sqlite
	@$(MAKE) --no-print-directory test-postgres

# Not a gate: leaves out the real-browser tests, the `slow` scenarios, PostgreSQL, lint and types.
test-fast: install
	DATABASE_URL= $(BIN)/pytest -q $(PYTEST_XDIST) -m "not slow and not browser"

messages: install
	cd hotline && ../$(BIN)/django-admin makemessages -l nl -l fr --no-obsolete && ../$(BIN)/django-admin compilemessages

bench: install
	DATABASE_URL="$(PG_URL)" $(BIN)/python bench/intake_throughput.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
