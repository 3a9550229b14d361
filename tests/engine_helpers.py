"""Helpers for the engine tests: a real folk tune as timed MIDI, and output checks."""

from pathlib import Path

import mido
import numpy as np

from jamd.daemon.config import Config
from jamd.daemon.engine import Engine
from jamd.daemon.offline import simulate

TUNE = Path(__file__).parent / "fixtures" / "nottingham" / "melody" / "ashover1.mid"
# The fixture is a 3/4 jig at 120 bpm: at 4 steps per beat a step is 0.125 s, a bar 1.5 s.
TEMPO, BEATS_PER_BAR = 120.0, 3
BAR = 60.0 / TEMPO * BEATS_PER_BAR


def tune_notes(until: float) -> list[tuple[float, float, int]]:
    """(start, end, pitch) of the fixture's notes that end by ``until`` seconds."""
    notes, sounding, now = [], {}, 0.0
    for msg in mido.MidiFile(TUNE):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[msg.note] = now
        elif msg.type in ("note_on", "note_off") and msg.note in sounding:
            notes.append((sounding.pop(msg.note), now, msg.note))
    return [n for n in notes if n[1] <= until]


def note_events(notes, velocity=90, channel=0, shift=0.0):
    """Timed note-on/note-off messages for (start, end, pitch) notes; offs first at equal times."""
    events = []
    for start, end, pitch in notes:
        events.append((start + shift, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        events.append((end + shift, 0, mido.Message("note_off", channel=channel, note=pitch)))
    return [(t, m) for t, _, m in sorted(events, key=lambda e: (e[0], e[1]))]


def tune(until: float, **kwargs):
    return note_events(tune_notes(until), **kwargs)


def make_engine(model, seed=1, load_model=None, **settings) -> Engine:
    config = Config(**{"tempo": TEMPO, "beats_per_bar": BEATS_PER_BAR, **settings})
    return Engine(config, model, np.random.default_rng(seed), load_model=load_model)


def run(engine, events, until, silence=False):
    """Everything ``engine`` sends for ``events`` through ``until`` seconds (grid from 0 s).

    Call it again to carry on from where the last call stopped.
    """
    return simulate(engine, events, until, silence=silence)


def note_ons(out, channel):
    return [(t, m) for t, m in out if m.type == "note_on" and m.velocity > 0 and m.channel == channel]


def assert_hygienic(out):
    """Each note-on is followed by its note-off before it is struck again, and nothing is left on."""
    on = set()
    last = float("-inf")
    for when, msg in out:
        assert isinstance(msg, mido.Message) and np.isfinite(when)
        assert when >= last - 1e-9, f"{msg} at {when} sent after a message at {last}"
        last = when
        key = (getattr(msg, "channel", None), getattr(msg, "note", None))
        if msg.type == "note_on" and msg.velocity > 0:
            assert key not in on, f"note-on {key} while already sounding at {when}"
            on.add(key)
        elif msg.type in ("note_on", "note_off"):
            on.discard(key)
    assert not on, f"notes left sounding: {sorted(on)}"
