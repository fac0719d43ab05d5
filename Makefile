# The two commands of this repository: `make demo` (the main job) and `make test`.
# Both create the virtualenv on first use and install everything the project needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test validate build venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[instructor,dev,offline]"
	# MovieLens-100K for offline machines: recbole ships it; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps "recbole==1.2.1"
	touch $(STAMP)

## Build the student releases, grade example submissions of Lab 01, print the class's marks.
demo: $(STAMP)
	$(BIN)/course demo

## The whole test suite: units, build --check, nbgrader validate, and every lab's validation.
test: $(STAMP)
	$(BIN)/python -m pytest

## Validate every lab (solutions full marks, releases zero) without the rest of the tests.
validate: $(STAMP)
	$(BIN)/course validate

build: $(STAMP)
	$(BIN)/course build

clean:
	rm -rf grading .pytest_cache
