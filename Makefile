# traygo: `make run` serves the demo model locally, `make test` runs every test.
# Both go through `make setup`, which installs what is missing and is quick when nothing changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := cli,inference,training,scraper,infra,dev
STAMP := $(VENV)/.installed
# Deploying needs only the infra extra (CDK, cdk-nag, the core): no TensorFlow, no Chromium.
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
# checkov pins its own versions of boto3 and friends, so it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup system-deps run test lint format test-compat lambda-bundle synth images \
        bench bench-train bench-inference bench-preprocess bench-scrape bench-port bench-tray bench-feedback bench-finetune \
        bench-hostile demo-model lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(STAMP) system-deps ## create .venv with every part installed, and the system packages

$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "traygo needs Python 3.11+; set PYTHON=python3.X" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[$(EXTRAS)]'
	touch $@

system-deps: ## Debian's chromium, chromium-driver (browser tests) and nodejs (the CDK's jsii runtime)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
	  command -v node >/dev/null || bash scripts/install-system-deps.sh

run: setup ## serve the five demo labels on http://127.0.0.1:8080 from the local store
	$(BIN)/traygo run

test: setup ## lint, format check, type check, every test, and the tflite-runtime compatibility run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest
	$(MAKE) test-compat

lint: setup checkov ## ruff check and format check, mypy, checkov on the synthesized template
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

format: setup ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

test-compat: ## the handler tests on tflite-runtime 2.14 with numpy < 2
	bash lambdas/inference/compat/run-tests.sh

lambda-bundle: ## build the Lambda bundle for python3.12 x86_64 into build/lambda
	bash lambdas/inference/build-bundle.sh

.PHONY: deploy-setup diff deploy destroy checkov

deploy-setup: $(DEPLOY_STAMP) ## .venv-deploy: CDK, traygo submit/models; no TF, no Chromium

$(DEPLOY_STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "traygo needs Python 3.11+; set PYTHON=python3.X" >&2; exit 1; }
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install -q --upgrade pip
	$(DEPLOY_VENV)/bin/pip install -q -c requirements/constraints.txt -e '.[infra,cli]'
	touch $@

synth: $(DEPLOY_STAMP) ## cdk synth into cdk.out/ (offline, no AWS account needed)
	bash infra/cdk.sh synth

diff: $(DEPLOY_STAMP) ## cdk diff against the deployed stack (AWS credentials)
	bash infra/cdk.sh diff

deploy: $(DEPLOY_STAMP) ## cdk deploy: build and push the job images, create/update the stack
	bash infra/cdk.sh deploy

destroy: $(DEPLOY_STAMP) ## cdk destroy (keeps the bucket; see docs/deploy.md, tear down)
	bash infra/cdk.sh destroy

checkov: synth ## checkov on cdk.out/ (each skip justified in .checkov.yaml)
	test -x $(CHECKOV_VENV)/bin/checkov || { $(PYTHON) -m venv $(CHECKOV_VENV) && \
	  $(CHECKOV_VENV)/bin/pip install -q checkov==$(CHECKOV_VERSION); }
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

images: ## build the container images with podman and smoke-test them (slow)
	bash infra/images/build-and-smoke.sh

bench: bench-preprocess bench-scrape bench-inference bench-train bench-port bench-tray ## every benchmark

bench-train: setup ## backbone head vs scratch vs seed: held-out and cross-source accuracy, wall time
	$(BIN)/python -m benchmarks.bench_train

bench-inference: setup ## handler (float16 and int8 backbone + heads) vs a Keras CNN per label: 1 and 6 labels
	$(BIN)/python -m benchmarks.bench_inference

bench-preprocess: setup ## the shared preprocessing (JPEG draft) vs a naive Pillow decode
	$(BIN)/python -m benchmarks.bench_preprocess

bench-scrape: setup ## concurrent vs sequential downloads against the fixture image host
	$(BIN)/python -m benchmarks.bench_scrape

bench-hostile: setup ## peak RSS per hostile input through the handler; trickling hosts vs deadline
	$(BIN)/python -m benchmarks.bench_hostile

bench-tray: setup ## five labels on held-out photos and synthetic trays: whole-picture vs tray scoring
	$(BIN)/python -m benchmarks.bench_tray

bench-feedback: setup ## a canteen's corrections through POST /feedback: false alarms and recall at N = 0, 10, 30, 100
	$(BIN)/python -m benchmarks.bench_feedback

bench-finetune: setup ## frozen vs tuned vs tuned-int8 backbone through tune, train and the handler: photos, trays, false alarms (~40 min)
	$(BIN)/python -m benchmarks.bench_finetune

bench-port: setup ## the torch checkpoint's Keras port: ImageNet "pizza" top-1, LiteRT parity, speed
	$(BIN)/python -m benchmarks.bench_port

demo-model: setup ## retrain the five committed demo heads on ../shared/datasets
	$(BIN)/python -m training.demo_model

lock: ## re-resolve requirements/constraints.txt from pyproject.toml
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install -q -e '.[$(EXTRAS)]'
	(echo "# Versions known to work together; regenerate with make lock."; \
	 build/lock-venv/bin/pip freeze --exclude-editable) > requirements/constraints.txt

clean: ## remove build outputs (keeps .venv and the local store)
	rm -rf build cdk.out .pytest_cache .ruff_cache
