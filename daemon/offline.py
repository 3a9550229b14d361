"""``jamd play``: the live engine run on a MIDI file in simulated time, written out as MIDI.

The same Engine as on stage: each message is handed in at its time in seconds and ``tick``
runs at every time the engine asks for, through the end of the file plus long enough for an
answer. The tempo and the bars are the file's own (flags override); the result has two tracks,
the player's part and jamd's, with the file's tempo and time signatures, so jamd's grid lines
up with the bars in a sequencer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mido
import numpy as np

from jamd.daemon.config import Config
from jamd.daemon.engine import Engine
from jamd.daemon.errors import JamdError
from jamd.daemon.midifile import open_midi, read_song, write_tracks
from jamd.daemon.model import StepModel, load_model
from jamd.daemon.voice import Scheduled

_REALTIME = {"clock", "start", "stop", "continue", "songpos", "song_select", "tune_request",
             "active_sensing", "reset", "sysex", "quarter_frame"}
SCORE_SUFFIXES = (".krn", ".abc", ".xml", ".musicxml", ".mxl")
FROM_FILE = ("tempo", "beats_per_bar")  # what a file sets unless a flag does


@dataclass(frozen=True)
class PlayerPart:
    """The player's messages at their times (seconds), and the file's own tempo and bars."""

    events: list[Scheduled]
    bpm: float | None
    signatures: list[tuple[float, int, int]]  # (beat, numerator, denominator)


def read_events(path: Path, bpm: float = 120.0) -> PlayerPart:
    """The player's part of a MIDI file (its own tempo map) or of a score (kern, ABC, MusicXML, read
    with the train extra's music21, played at ``bpm`` unless the score sets a tempo)."""
    path = Path(path)
    if path.suffix.lower() in SCORE_SUFFIXES:
        return _read_score(path, bpm)
    midi = open_midi(path)
    song = read_song(path)
    events, now = [], 0.0
    for msg in midi:  # iterating a MidiFile merges the tracks and gives delta times in seconds
        now += msg.time
        if not msg.is_meta:
            events.append((now, msg))
    return PlayerPart(events, song.bpm, list(song.metre.signatures))


def _read_score(path: Path, bpm: float) -> PlayerPart:
    try:
        from jamd.training.corpus import read_notes
    except ImportError:
        raise JamdError(f"{path}: reading {path.suffix} scores needs music21, from the train extra: "
                        "pip install 'jamd[train]' (or export the score as MIDI)") from None
    _, notes, _, metre = read_notes(path)[0]
    seconds = 60.0 / bpm
    events = []
    for note in notes:
        events.append((note.start * seconds, mido.Message("note_on", note=note.pitch, velocity=80)))
        events.append(((note.start + note.duration) * seconds - 1e-4, mido.Message("note_off", note=note.pitch)))
    events.sort(key=lambda e: e[0])
    signatures = [] if isinstance(metre, Exception) else list(metre.signatures)
    return PlayerPart(events, None, signatures)


def simulate(engine: Engine, events: list[Scheduled], end: float, silence: bool = True,
             after_tick: Callable[[float], None] | None = None) -> list[Scheduled]:
    """Feed ``events`` to ``engine`` at their times and tick it through ``end`` (seconds).

    The grid starts at 0 s. With ``silence``, everything still sounding ends at ``end``.
    ``after_tick(when)``, if given, is called after each tick (a report reading the engine's state).
    """
    def tick(when: float) -> list[Scheduled]:
        done = engine.tick(when)
        if after_tick is not None:
            after_tick(when)
        return done

    out = tick(0.0)
    for when, msg in events:
        while (due := engine.next_tick_time()) <= when:
            out += tick(due)
        out += engine.handle(msg, when)
    while (due := engine.next_tick_time()) <= end:
        out += tick(due)
    out += tick(end)
    return out + engine.silence(end) if silence else out


def play_file(in_path: Path, out_path: Path, config: Config, model: StepModel | None = None,
              from_file: tuple[str, ...] = FROM_FILE) -> dict:
    """Jam along with the file ``in_path``; write player + jamd to ``out_path``. Returns stats.

    The settings named in ``from_file`` (tempo, beats_per_bar) come from the file where it says
    (its first tempo and time signature); the caller leaves out those the user set. ``model``
    defaults to ``config.model``. The result lasts until the file's last message plus
    ``answer_after_bars + answer_bars + 1`` bars.
    """
    model = model if model is not None else load_model(config.model)
    part = read_events(Path(in_path), config.tempo)
    if "tempo" in from_file and part.bpm:
        config = config.replace(tempo=round(part.bpm, 3))
    if "beats_per_bar" in from_file and part.signatures:
        _, numerator, denominator = part.signatures[0]
        quarters = numerator * 4 / denominator  # 6/8 -> 3 quarter-note beats: jamd's beats are quarters
        if quarters == int(quarters) and 1 <= quarters <= 16:
            config = config.replace(beats_per_bar=int(quarters))
    if part.signatures:  # the file says where its bars are: bar 1 at its start, nothing to infer
        config = config.replace(infer_bar=False)
    engine = Engine(config, model, np.random.default_rng(config.seed), load_model=load_model)
    bar = 60.0 / config.tempo * config.beats_per_bar
    events = part.events
    last = events[-1][0] if events else 0.0
    end = last + (config.answer_after_bars + config.answer_bars + 1) * bar
    jamd = simulate(engine, events, end)
    player = [(when, msg) for when, msg in events if msg.type not in _REALTIME]
    own = "beats_per_bar" in from_file and part.signatures
    signatures = part.signatures if own else [(0.0, config.beats_per_bar, 4)]
    write_tracks(Path(out_path), [("player", player), ("jamd", jamd)], config.tempo, signatures)
    return {**engine.stats, "seconds": end, "tempo": config.tempo, "beats_per_bar": config.beats_per_bar,
            "player_notes": sum(1 for _, m in player if m.type == "note_on" and m.velocity > 0),
            "jamd_notes": sum(1 for _, m in jamd if m.type == "note_on" and m.velocity > 0)}
