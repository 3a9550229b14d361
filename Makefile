# The two quick-start commands are `make run` and `make test`; the rest rebuild the shipped models.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
DATA ?= ../shared/data

.PHONY: run test setup setup-train models clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The light runtime only: what a Raspberry Pi needs.
setup: $(BIN)/python
	$(BIN)/pip install -q -e .

setup-train: $(BIN)/python
	$(BIN)/pip install -q -e ".[train,dev]"

run: setup
	$(BIN)/jamd run --model folk --virtual

test: setup-train
	$(BIN)/python -m pytest -q -ra

# Rebuild the shipped models exactly as committed (CPU, 2 cores: see README for timings). Each run
# stops when its validation loss stops improving and keeps the best weights.
models: setup-train
	$(BIN)/jamd-train fit $(DATA)/essen-kern/deutschl --name folk -o models/folk.onnx --seed 1
	$(BIN)/jamd-train fit $(DATA)/nottingham/ABC_cleaned --name nottingham -o models/nottingham.onnx --seed 1
	$(BIN)/jamd-train fit --kind chords $(DATA)/nottingham/MIDI --name nottingham-chords -o models/nottingham-chords.onnx --seed 1
	$(BIN)/jamd-train fit $(DATA)/piano-midi/midi_songs --name piano -o models/piano.onnx --seed 1 --batch 16 --min-count 20

clean:
	rm -rf $(VENV) .pytest_cache runs cache
