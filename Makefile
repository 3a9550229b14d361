# The two quick-start commands are `make run` and `make test`; the rest rebuild the shipped models.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
DATA ?= ../shared/data

.PHONY: run test setup setup-train models audition clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The light runtime only: what a Raspberry Pi needs. The stamps make `make run` reinstall
# only when pyproject.toml changed (a reinstall costs seconds before jamd starts).
setup: $(VENV)/.installed-light

setup-train: $(VENV)/.installed-train

$(VENV)/.installed-light: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[train,dev]"
	touch $@ $(VENV)/.installed-light

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
	$(BIN)/jamd-train fit --kind poly $(DATA)/piano-midi/midi_songs music21:bach '$(DATA)/nottingham/MIDI/*.mid' --name piano -o models/piano.onnx --seed 1

clean:
	rm -rf $(VENV) .pytest_cache runs cache

# The musicianship report of every shipped model (README "Musicianship"), JSON in bench/results/.
FOLK_HELD_OUT = $(foreach f,han1 han2 irl lot lux folkHaydn,music21:essenFolksong/$(f).abc)
FOLK_HELD_OUT_HAN = $(foreach f,han1 han2,music21:essenFolksong/$(f).abc)
FOLK_HELD_OUT_EUROPE = $(foreach f,irl lot lux folkHaydn,music21:essenFolksong/$(f).abc)
audition: setup-train
	mkdir -p bench/results
	for mode in respond duet next; do \
	  $(BIN)/jamd-train audition folk $(FOLK_HELD_OUT) --mode $$mode --json > bench/results/audition-folk-$$mode.json; \
	  $(BIN)/jamd-train audition nottingham $(DATA)/nottingham/ABC_cleaned --mode $$mode --json > bench/results/audition-nottingham-$$mode.json; \
	done
	$(BIN)/jamd-train audition folk $(DATA)/essen-kern/deutschl --mode next --json > bench/results/audition-folk-deutschl-next.json
	$(BIN)/jamd-train audition folk $(FOLK_HELD_OUT_HAN) --mode next --json > bench/results/audition-folk-han-next.json
	$(BIN)/jamd-train audition folk $(FOLK_HELD_OUT_EUROPE) --mode next --json > bench/results/audition-folk-europe-next.json
	$(BIN)/jamd-train audition nottingham-chords $(DATA)/nottingham/MIDI --mode chords --json > bench/results/audition-nottingham-chords-chords.json
	$(BIN)/jamd-train audition-poly piano --json > bench/results/audition-piano-respond.json
	$(BIN)/jamd-train audition-harmonize piano --json > bench/results/audition-piano-harmonize.json
	$(BIN)/jamd-train audition-harmonize piano --score-key --json > bench/results/audition-piano-harmonize-score-key.json
