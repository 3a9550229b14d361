"""A player plays freely on the internal clock (no Start, no count-off): jamd finds where the bar
begins from the phrase, on tunes the folk model never heard (music21's Essen collection outside
deutschl), and revises it phrase by phrase."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from jamd.daemon.config import Config
from jamd.daemon.engine import Engine
from jamd.daemon.offline import simulate

pytestmark = pytest.mark.train
TEMPO = 120.0
BEAT = 60.0 / TEMPO
UNHEARD = "music21:essenFolksong/lux*.abc"  # Luxembourg: Essen songs outside deutschl


def unheard_songs(tmp_path, count=24):
    pytest.importorskip("music21")
    from jamd.training.corpus import load_corpus

    songs = load_corpus([UNHEARD], cache_dir=tmp_path, progress=False, workers=1).songs
    # Whole quarter-note bars (what beats_per_bar can say), the same bar all through the first 8 beats.
    usable = [s for s in songs if s.bars and all(b.length % 4 == 0 for b in s.bars[:4])
              and len({b.length for b in s.bars[:4]}) == 1]
    assert len(usable) >= count
    return usable[:count]


def played_freely(song, beats: int = 8):
    """The first ``beats`` beats from the song's first note as MIDI at TEMPO, the first note at 0 s."""
    step = BEAT / 4
    events, began = [], None
    for i, token in enumerate(song.tokens[1:beats * 4 + 1]):
        if token in ("hold", "rest"):
            if token == "rest" and began is not None:
                events.append((i * step - 0.01, mido.Message("note_off", note=began)))
                began = None
            continue
        if began is not None:
            events.append((i * step - 0.01, mido.Message("note_off", note=began)))
        began = max(int(p) for p in token.split("."))
        events.append((i * step, mido.Message("note_on", note=began, velocity=80)))
    if began is not None:
        events.append((beats * BEAT - 0.01, mido.Message("note_off", note=began)))
    return events


def test_the_bar_phase_is_found_from_a_freely_played_phrase(folk_model, tmp_path):
    assert folk_model.hears_position, "the shipped folk model is told the bar position (jamd-model/2)"
    found = pickups = found_pickup = 0
    songs = unheard_songs(tmp_path)
    for song in songs:
        bar = song.bars[0].length
        truth = (song.bars[0].start - song.first) % bar  # the grid starts on the first note
        engine = Engine(Config(tempo=TEMPO, beats_per_bar=bar // 4, mode="next", seed=1), folk_model,
                        np.random.default_rng(1))
        simulate(engine, played_freely(song), 8 * BEAT + 2.5 * BEAT)  # the phrase, then a pause
        found += engine.clock.origin % bar == truth
        if truth:
            pickups += 1
            found_pickup += engine.clock.origin % bar == truth
    baseline = sum((s.bars[0].start - s.first) % s.bars[0].length == 0 for s in songs)
    assert found > len(songs) / 2, f"{found} of {len(songs)} downbeats found"
    assert found >= baseline, f"jamd {found}, first note as the downbeat {baseline}"
    assert pickups and found_pickup > 0, "a pickup is heard as a pickup at least sometimes"


def test_with_a_count_off_or_midi_clock_the_phase_is_not_second_guessed(folk_model, tmp_path):
    song = unheard_songs(tmp_path, 1)[0]
    engine = Engine(Config(tempo=TEMPO, beats_per_bar=song.bars[0].length // 4, count_off=True), folk_model,
                    np.random.default_rng(1))
    simulate(engine, [(t + 4 * BEAT * 2, m) for t, m in played_freely(song)], 20 * BEAT)
    assert engine.clock.origin == 0 and engine.stats["bar_phase_changes"] == 0
