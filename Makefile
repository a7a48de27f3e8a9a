# The README's words. `make run` and `make test` bootstrap everything they need from a clean clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TOOLS  := .tools/venv
SAM    := $(TOOLS)/bin/sam
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-3

.PHONY: run test browser invoke demo load signing-key lint lint-template lint-openapi build layer-size bench bench-cold-start bench-ledger bench-ledger-checks bench-statements bench-exam-start bench-certificate-pdf bench-subscriptions bench-aria bench-scale tools clean

$(VENV)/.installed: pyproject.toml layers/reussite/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "reussite needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(TOOLS)/.installed: tools-requirements.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r tools-requirements.txt
	@touch $@

## run: the whole stack on 127.0.0.1:$(PORT or 3000) — PostgreSQL, moto, every function
run: $(VENV)/.installed
	$(PY) -m reussite_local run

# Debian's Chromium, for the browser test of the certificate page (no browser download).
browser:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

## test: the test suite against real PostgreSQL and moto
test: $(VENV)/.installed browser
	$(PY) -m pytest $(PYTEST_ARGS)

## demo: walk one family through everything, against the running stack (`make run` first)
demo: $(VENV)/.installed
	$(PY) -m reussite_local demo

## load: steady-state load over loopback on a local stack it starts, one and two HTTP processes (bench/load.py)
load: $(VENV)/.installed
	$(PY) bench/load.py

## invoke FN=name [EVENT=file]: fire a function of the running stack with its sample event
invoke: $(VENV)/.installed
	$(PY) -m reussite_local invoke $(FN) $(if $(EVENT),--event $(EVENT))

## signing-key: a new credential signing key, to store (rotate) in the CertificateSigningKey
## secret: aws secretsmanager put-secret-value --secret-id <arn> --secret-string "$$(make -s signing-key)"
signing-key: $(VENV)/.installed
	@$(PY) -m reussite_local signing-key

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

tools: $(TOOLS)/.installed

lint-template: $(TOOLS)/.installed
	$(SAM) validate --lint

## lint-openapi: the merged OpenAPI document through Spectral (spectral:oas), its TypeScript
## types generated (openapi-typescript) and a small client type-checked against them (tsc)
NODE_TOOLS := clients/typescript/node_modules/.bin
$(NODE_TOOLS)/.installed: clients/typescript/package.json clients/typescript/package-lock.json
	cd clients/typescript && npm ci --no-audit --no-fund --silent
	touch $@

lint-openapi: $(VENV)/.installed $(NODE_TOOLS)/.installed
	mkdir -p build
	$(PY) -m reussite_local openapi > build/openapi.json
	$(NODE_TOOLS)/spectral lint build/openapi.json --ruleset .spectral.yaml --fail-severity warn
	$(NODE_TOOLS)/openapi-typescript build/openapi.json -o clients/typescript/reussite.d.ts
	$(NODE_TOOLS)/tsc -p clients/typescript

## build: sam build without Docker and without a python3.13 interpreter
build: $(TOOLS)/.installed
	PIP="$(CURDIR)/$(TOOLS)/bin/python -m pip" $(SAM) build

## layer-size: the built layer's unzipped size, which must stay under 40 MB
layer-size: build
	@du -s --apparent-size -B1 .aws-sam/build/ReussiteLayer | awk '{ mb = $$1 / 1e6; \
		printf "built layer: %.1f MB unzipped (limit 40 MB)\n", mb; exit (mb >= 40) }'

bench-cold-start: $(VENV)/.installed
	$(PY) bench/cold_start.py

## bench-ledger: spend throughput vs raw SQL; expiry of 1,000,000 lots vs a per-row loop
bench-ledger: $(VENV)/.installed
	$(PY) bench/ledger.py

## bench-statements: statements per request path at two sizes, against their budgets
bench-statements: $(VENV)/.installed
	$(PY) bench/statements.py

## bench-ledger-checks: the hourly and 5-minute ledger checks vs the whole-ledger queries
bench-ledger-checks: $(VENV)/.installed
	$(PY) bench/ledger_checks.py

## bench-exam-start: exam start through the handler stack vs the raw SQL it performs
bench-exam-start: $(VENV)/.installed
	$(PY) bench/exam_start.py

## bench-certificate-pdf: certificate PDF render time and size vs naive fpdf2
bench-certificate-pdf: $(VENV)/.installed
	$(PY) bench/certificate_pdf.py

## bench-subscriptions: the daily lifecycle + allocation over 100,000 subscriptions vs a per-row loop
bench-subscriptions: $(VENV)/.installed
	$(PY) bench/subscriptions.py

## bench-aria: ARIA's retrieval over 100,000 pieces and its message handler's overhead
bench-aria: $(VENV)/.installed
	$(PY) bench/aria.py

## bench-scale: every request path's SQL and every periodic job on 1,000,000 students (a 9 GB build, ~13 min)
bench-scale: $(VENV)/.installed
	$(PY) bench/scale.py

bench: bench-cold-start bench-ledger bench-ledger-checks bench-statements bench-exam-start bench-certificate-pdf bench-subscriptions bench-aria bench-scale

clean:
	rm -rf $(VENV) $(TOOLS) .local .aws-sam
