# synth2real: every entry point a user needs. All targets set up the
# environment themselves (uv + the committed uv.lock); nothing else to install.
#
#   make reproduce                                             # paper config (GPU + network)
#   make reproduce CONFIG=config/offline.yaml BUNDLE=<dir>     # offline, CPU, no network
#   make test BUNDLE=<dir>                                     # whole test suite
#   make bench BUNDLE=<dir>                                    # speed ratios, measured side by side
#   make mutants [BUNDLE=<dir>]                                # planted bugs the tests must catch
#   make gpu-check [BUNDLE=<dir>]                              # every CUDA code path, one line each (GPU)
#   make paper  [CONFIG=... BUNDLE=...]                        # paper/main.pdf (reruns only what is stale)
#   make report [CONFIG=... BUNDLE=...]                        # reports/report.html (snakemake --report)
#   make fetch-weights [CONFIG=...]                            # fill HF_HOME/TORCH_HOME caches (network)
#   make demo                                                  # web demo (newest run) on http://127.0.0.1:7860
#   make doctor                                                # what this machine has and lacks
#   make check-fresh [SUITE=bookworm|trixie] [CMD="make ..."]  # a README command in a fresh Debian root
#   make check-container                                       # build the image, reproduce offline inside

CONFIG ?= config/paper.yaml
BUNDLE ?=
CORES ?= all
# Extra snakemake arguments, e.g. SMK_ARGS="--forceall" or "-n".
SMK_ARGS ?=
# onnxruntime flavour: cpu here and in CI, gpu in the CUDA container.
ORT ?= cpu
PYTEST_ARGS ?=
# Where the workflow writes results/, models/, paper/ and reports/: runs/<name of CONFIG>,
# so each configuration keeps its own outputs (the Snakefile's default, too).
RUN_DIR ?= runs/$(shell sed -n 's/^name: *//p' $(CONFIG))
# Extra arguments of `synth2real bench`, e.g. BENCH_ARGS=--quick, and the models it serves.
BENCH_ARGS ?=
BENCH_MODELS ?= runs/offline/models
# Snakemake profile: profiles/local (default) or profiles/slurm (see docs/paper-container-scaleout.md).
PROFILE ?= profiles/local
# Demo server: the exported models, and where to listen (0.0.0.0 in the container).
MODELS ?= $(RUN_DIR)/models
HOST ?= 127.0.0.1
PORT ?= 7860
# check-fresh: the Debian release of the fresh root, and the README command run in it.
SUITE ?= bookworm
CMD ?= make reproduce CONFIG=config/offline.yaml BUNDLE=../shared/bundle && ls -l runs/offline/paper/main.pdf runs/offline/models/*.onnx
# The global `gpu` resource of profiles/local: never more GPU jobs than visible GPUs.
export SYNTH2REAL_GPUS ?= $(shell profiles/local/visible-gpus)

VENV := .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
# uv, pinned, in a private venv: Debian 12+/Ubuntu 23.04+ refuse pip installs into
# the system Python (PEP 668), and nothing here touches it.
UV_VERSION := 0.13.9
UV := .uv/bin/uv
UV_STAMP := .uv/.version-$(UV_VERSION)
BUNDLE_ARG := $(if $(BUNDLE),--config bundle=$(abspath $(BUNDLE)),)
# Targets go before the options: --configfile and --config take every word after them.
SMK = $(SNAKEMAKE) $(1) --snakefile $(abspath Snakefile) --directory $(RUN_DIR) \
	--workflow-profile $(abspath $(PROFILE)) --cores $(CORES) --configfile $(abspath $(CONFIG)) $(BUNDLE_ARG)
# Debian packages the paper (`project` group of the one list) and the tests (`test`) need.
APT_PACKAGES := $(shell awk '!/^\#/ && $$2 == "project" {print $$1}' system-packages.txt)
APT_TEST_PACKAGES := $(shell awk '!/^\#/ && $$2 == "test" {print $$1}' system-packages.txt)

.PHONY: setup system-deps test-deps reproduce paper report envs test bench lint clean help fetch-weights demo mutants \
	doctor check-fresh check-container gpu-check

help:
	@sed -n '1,/^$$/p' Makefile

$(UV_STAMP):
	rm -rf .uv
	python3 -m venv .uv || { echo "make: python3 cannot create a venv; install the README's requirements:" \
	  "sudo apt-get install $$(awk '!/^#/ && $$2 == "base" {printf "%s ", $$1}' system-packages.txt)" >&2; exit 1; }
	.uv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	touch $@

# The environment is rebuilt whenever the lock changes.
$(VENV)/.synced-$(ORT): pyproject.toml uv.lock | $(UV_STAMP)
	$(UV) sync --locked --compile-bytecode --extra $(ORT)
	rm -f $(VENV)/.synced-*
	touch $@

setup: $(VENV)/.synced-$(ORT)

# Installs the Debian packages above that dpkg does not list as installed (needs root or sudo):
# system-deps what the workflow and paper need, test-deps that plus the browser tests' packages.
define apt_install
	@command -v dpkg-query >/dev/null || { echo "make: no dpkg here; install the equivalents of:" \
	  "$(1)" >&2; exit 1; }
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_PACKAGES))

test-deps:
	$(call apt_install,$(APT_PACKAGES) $(APT_TEST_PACKAGES))

reproduce: setup system-deps
	$(call SMK) $(SMK_ARGS)

paper: setup system-deps
	$(call SMK,paper/main.pdf) $(SMK_ARGS)

report: setup
	@mkdir -p $(RUN_DIR)/reports
	$(call SMK) --report $(abspath $(RUN_DIR))/reports/report.html
	@echo "report: $(RUN_DIR)/reports/report.html"

# Rewrites environment.yml and envs/*.yaml from uv.lock (run after `uv lock`).
envs: setup
	$(VENV)/bin/synth2real envs

test: setup test-deps
	BUNDLE=$(abspath $(or $(BUNDLE),../shared/bundle)) $(PY) -m pytest $(PYTEST_ARGS)

# Planted bugs the tests must catch (tests/mutants.py): each applied to a copy of the tree,
# its tests run there; fails when one survives.
mutants: setup
	BUNDLE=$(abspath $(or $(BUNDLE),../shared/bundle)) $(PY) -m tests.mutants $(MUTANTS_ARGS)

# Bench reads the offline config; its serving part measures that run's models when present.
bench: setup
	$(VENV)/bin/synth2real bench --bundle $(abspath $(or $(BUNDLE),../shared/bundle)) \
		--models $(BENCH_MODELS) $(BENCH_ARGS)

# The GPU check (docs/gpu-check.md): torch, onnxruntime's CUDA provider, features, fp16
# generation, the study on GPU features; one line each, skipped without a CUDA GPU. It
# switches the venv to onnxruntime-gpu (the `gpu` extra); other targets switch back.
gpu-check:
	$(MAKE) --no-print-directory setup ORT=gpu
	BUNDLE=$(abspath $(or $(BUNDLE),../shared/bundle)) $(PY) -m synth2real.tools.gpu_check

# Downloads the weights CONFIG needs (Stable Diffusion into $HF_HOME, MobileNetV2 into
# $TORCH_HOME); needs network. Afterwards runs work with HF_HUB_OFFLINE=1.
fetch-weights: setup
	$(VENV)/bin/synth2real fetch-weights --config $(CONFIG) $(if $(BUNDLE),--bundle $(abspath $(BUNDLE)),)

# Compare page for a run's models. Given CONFIG, RUN_DIR or MODELS: that run (with the `demo:`
# section of CONFIG); given none: the run under runs/ whose models were exported last, with the
# settings it was made with (the demo says which), so it opens the run just made, whatever its config.
DEMO_CHOSEN := $(filter-out file default undefined,$(origin CONFIG) $(origin RUN_DIR) $(origin MODELS))
demo: setup
	$(VENV)/bin/synth2real demo --host $(HOST) --port $(PORT) \
	  $(if $(DEMO_CHOSEN),--models $(MODELS) --config $(CONFIG),--newest-run runs)

doctor: setup
	$(VENV)/bin/synth2real doctor $(if $(BUNDLE),--bundle $(abspath $(BUNDLE)),)

# A README command in a freshly bootstrapped Debian root (the same script CI runs; needs root).
check-fresh:
	bash .ci/fresh-root.sh --suite $(SUITE) --log build/fresh-$(SUITE).log -- '$(CMD)'

# Builds docker/Dockerfile with podman on a locally bootstrapped Debian base and
# reproduces the offline study in a build stage (needs root; no Docker engine).
check-container:
	bash docker/check-container.sh $(abspath $(or $(BUNDLE),../shared/bundle))

lint: setup
	$(VENV)/bin/ruff check src tests workflow demo
	$(SNAKEMAKE) --lint --configfile config/offline.yaml --config bundle=$(abspath $(or $(BUNDLE),../shared/bundle))

clean:
	rm -rf runs results models paper/figures paper/tables paper/build .snakemake reports build
