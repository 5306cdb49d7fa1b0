# Two entry points for a fresh Debian/Ubuntu machine:
#   make build [TARGET=cortex-m7]   set up, then build the embedded default example
#   make test                       set up, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
TARGET ?= cortex-m4
CONFIG ?= examples/digits/tinykit.toml
PYTEST_ARGS ?=

# What the target side needs (cross compiler, C library, emulator, and the host compiler
# that builds tinykit's QEMU plugin and the host twin) and what the tests add (clang for
# the portability checks of generated C, chromium for the HTML report, cmake and g++ for
# the cmake-lib and Arduino firmware templates).
DEB_PACKAGES      := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc
TEST_DEB_PACKAGES := clang chromium cmake g++
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.tinykit-installed

.PHONY: build test setup debs test-debs lint clean

build: setup
	$(VENV)/bin/tinykit build --target $(TARGET) --config $(CONFIG)

test: setup test-debs
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

setup: $(STAMP) debs

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

define install_debs
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

debs:
	$(call install_debs,$(DEB_PACKAGES))

test-debs:
	$(call install_debs,$(TEST_DEB_PACKAGES))

lint: setup
	$(VENV)/bin/ruff check tinykit tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf build
