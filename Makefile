# Two commands on a fresh machine: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= eu-central-1

.PHONY: run test lint package bench browser clean

# The first run says what it installs and shows pip's progress, rather than minutes of silence.
$(STAMP): requirements.txt requirements-dev.txt
	@echo "Setting up $(VENV): installing requirements-dev.txt (the first time takes a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -r requirements-dev.txt
	touch $(STAMP)
	@echo "$(VENV) is ready"

## run: the whole service on an embedded moto backend (PORT, MOTO_PORT); Ctrl-C stops it
run: $(STAMP)
	$(BIN)/python -m local.stack

## test: lint, the packaged template through cfn-lint, then every test: two at a time
## (pytest-xdist, a file per worker, the longest first: LONGEST_FIRST in tests/conftest.py;
## TEST_WORKERS=0 runs them in this one process), then
## the IAM test, which checks the AWS calls all of them recorded (build/aws-calls.jsonl)
TEST_WORKERS ?= 2
CALL_LOG := $(CURDIR)/build/aws-calls.jsonl
test: $(STAMP) lint package browser
	$(BIN)/cfn-lint build/package/sam.json
	rm -f $(CALL_LOG) $(CALL_LOG).layers
	TESTS_AWS_CALL_LOG=$(CALL_LOG) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) \
	  --dist loadfile --no-loadscope-reorder -m "not after_all"
	TESTS_AWS_CALL_LOG=$(CALL_LOG) $(BIN)/python -m pytest -q -m after_all \
	  tests/test_iam_policies.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## browser: Debian's chromium, which Playwright drives in the UI tests (browser downloads are
## not possible here, so `playwright install` is not used)
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the UI tests (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## package: the CloudFormation/SAM template and deployment zip for the prod stage
package: $(STAMP)
	rm -rf build/package
	$(BIN)/chalice package --stage prod --merge-template infra/template.json build/package

## bench: throughput, latency and AWS calls of the pipeline on the local stack, then how
## the cost of reads grows with the data stored (prints figures)
bench: $(STAMP)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/cost.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
