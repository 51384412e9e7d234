# synth2real: every entry point a user needs. All targets set up the
# environment themselves (uv + the committed uv.lock); nothing else to install.
#
#   make reproduce                                             # paper config (GPU + network)
#   make reproduce CONFIG=config/offline.yaml BUNDLE=<dir>     # offline, CPU, no network
#   make test BUNDLE=<dir>                                     # whole test suite
#   make bench BUNDLE=<dir>                                    # speed ratios, measured side by side
#   make paper  [CONFIG=... BUNDLE=...]                        # paper/main.pdf (reruns only what is stale)
#   make report [CONFIG=... BUNDLE=...]                        # reports/report.html (snakemake --report)
#   make fetch-weights [CONFIG=...]                            # fill HF_HOME/TORCH_HOME caches (network)
#   make demo                                                  # web demo on http://127.0.0.1:7860

CONFIG ?= config/paper.yaml
BUNDLE ?=
CORES ?= all
# Extra snakemake arguments, e.g. SMK_ARGS="--forceall" or "-n".
SMK_ARGS ?=
# onnxruntime flavour: cpu here and in CI, gpu in the CUDA container.
ORT ?= cpu
PYTEST_ARGS ?=
# Snakemake profile: profiles/local (default) or profiles/slurm (see docs/paper-container-scaleout.md).
PROFILE ?= profiles/local
# Demo server: the exported models, and where to listen (0.0.0.0 in the container).
MODELS ?= models
HOST ?= 127.0.0.1
PORT ?= 7860

VENV := .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
BUNDLE_ARG := $(if $(BUNDLE),--config bundle=$(abspath $(BUNDLE)),)
# Debian packages the tests and the paper need (browser tests, LaTeX, PDF -> PNG).
SYSTEM_TOOLS := chromium:chromium chromedriver:chromium-driver latexmk:latexmk pdftoppm:poppler-utils
APT_PACKAGES := chromium chromium-driver latexmk texlive-latex-extra poppler-utils

.PHONY: setup system-deps reproduce paper report envs test bench lint clean help fetch-weights demo

help:
	@sed -n '1,14p' Makefile

$(UV):
	python3 -m pip install --user --quiet uv

# The environment is rebuilt whenever the lock changes.
$(VENV)/.synced-$(ORT): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --compile-bytecode --extra $(ORT)
	rm -f $(VENV)/.synced-*
	touch $@

setup: $(VENV)/.synced-$(ORT)

# Installs the Debian packages above when any is missing (needs root or sudo).
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	kpsewhich booktabs.sty >/dev/null 2>&1 || missing="$$missing texlive-latex-extra"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

reproduce: setup system-deps
	$(SNAKEMAKE) --workflow-profile $(PROFILE) --cores $(CORES) --configfile $(CONFIG) $(BUNDLE_ARG) $(SMK_ARGS)

paper: setup system-deps
	$(SNAKEMAKE) --workflow-profile $(PROFILE) --cores $(CORES) --configfile $(CONFIG) $(BUNDLE_ARG) $(SMK_ARGS) paper/main.pdf

report: setup
	$(SNAKEMAKE) --configfile $(CONFIG) $(BUNDLE_ARG) --report reports/report.html
	@echo "report: reports/report.html"

# Rewrites environment.yml and envs/*.yaml from uv.lock (run after `uv lock`).
envs: setup
	$(PY) -m synth2real.envs

test: setup system-deps
	BUNDLE=$(abspath $(or $(BUNDLE),../shared/bundle)) $(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m synth2real.bench --bundle $(abspath $(or $(BUNDLE),../shared/bundle))

# Downloads the weights CONFIG needs (Stable Diffusion into $HF_HOME, MobileNetV2 into
# $TORCH_HOME); needs network. Afterwards runs work with HF_HUB_OFFLINE=1.
fetch-weights: setup
	$(PY) -m synth2real.fetch_weights --config $(CONFIG) $(if $(BUNDLE),--bundle $(abspath $(BUNDLE)),)

# Compare page for the models of the last `make reproduce` (the `demo:` section of CONFIG).
demo: setup
	$(PY) demo/app.py --host $(HOST) --port $(PORT) --models $(MODELS) --config $(CONFIG)

lint: setup
	$(VENV)/bin/ruff check src tests workflow demo
	$(SNAKEMAKE) --lint --configfile config/offline.yaml --config bundle=$(abspath $(or $(BUNDLE),../shared/bundle))

clean:
	rm -rf results models paper/figures paper/tables paper/build .snakemake
