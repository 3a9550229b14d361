"""``jamd play``: the live engine run on a MIDI file in simulated time, written out as MIDI.

The same Engine as on stage: each message is handed in at its time in seconds and ``tick``
runs at every time the engine asks for, through the end of the file plus long enough for an
answer. The result has two tracks, the player's part and jamd's, at the configured tempo, so
jamd's grid lines up with the bars in a sequencer.
"""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np

from daemon.config import Config
from daemon.engine import Engine
from daemon.errors import JamdError
from daemon.model import StepModel, load_model
from daemon.voice import Scheduled

TICKS_PER_BEAT = 480
_REALTIME = {"clock", "start", "stop", "continue", "songpos", "song_select", "tune_request",
             "active_sensing", "reset", "sysex", "quarter_frame"}


def read_events(path: Path) -> list[Scheduled]:
    """The messages of a MIDI file at their absolute times in seconds (the file's own tempo map)."""
    try:
        midi = mido.MidiFile(path)
    except FileNotFoundError:
        raise JamdError(f"{path}: MIDI file not found") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise JamdError(f"{path}: not a readable MIDI file ({e or type(e).__name__}); "
                        "export it again as a standard MIDI file") from None
    events, now = [], 0.0
    for msg in midi:  # iterating a MidiFile merges the tracks and gives delta times in seconds
        now += msg.time
        if not msg.is_meta:
            events.append((now, msg))
    return events


def simulate(engine: Engine, events: list[Scheduled], end: float, silence: bool = True) -> list[Scheduled]:
    """Feed ``events`` to ``engine`` at their times and tick it through ``end`` (seconds).

    The grid starts at 0 s. With ``silence``, everything still sounding ends at ``end``.
    """
    out = engine.tick(0.0)
    for when, msg in events:
        while (due := engine.next_tick_time()) <= when:
            out += engine.tick(due)
        out += engine.handle(msg, when)
    while (due := engine.next_tick_time()) <= end:
        out += engine.tick(due)
    out += engine.tick(end)
    return out + engine.silence(end) if silence else out


def play_file(in_path: Path, out_path: Path, config: Config, model: StepModel | None = None) -> dict:
    """Jam along with the MIDI file ``in_path``; write player + jamd to ``out_path``. Returns stats.

    ``model`` defaults to ``config.model``. The result lasts until the file's last message
    plus ``answer_after_bars + answer_bars + 1`` bars at ``config.tempo``.
    """
    model = model if model is not None else load_model(config.model)
    events = read_events(Path(in_path))
    engine = Engine(config, model, np.random.default_rng(config.seed), load_model=load_model)
    bar = 60.0 / config.tempo * config.beats_per_bar
    last = events[-1][0] if events else 0.0
    end = last + (config.answer_after_bars + config.answer_bars + 1) * bar
    jamd = simulate(engine, events, end)
    player = [(when, msg) for when, msg in events if msg.type not in _REALTIME]
    write_tracks(Path(out_path), config, [("player", player), ("jamd", jamd)])
    return {**engine.stats, "seconds": end,
            "player_notes": sum(1 for _, m in player if m.type == "note_on" and m.velocity > 0),
            "jamd_notes": sum(1 for _, m in jamd if m.type == "note_on" and m.velocity > 0)}


def write_tracks(path: Path, config: Config, tracks: list[tuple[str, list[Scheduled]]]) -> None:
    """A type-1 MIDI file, one track per (name, timed messages), at ``config.tempo``."""
    tempo = mido.bpm2tempo(config.tempo)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    for index, (name, messages) in enumerate(tracks):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        if index == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=tempo))
            track.append(mido.MetaMessage("time_signature", numerator=config.beats_per_bar, denominator=4))
        last_tick = 0
        for when, msg in sorted(messages, key=lambda m: m[0]):  # stable: same-time order kept
            tick = max(0, round(mido.second2tick(when, TICKS_PER_BEAT, tempo)))
            track.append(msg.copy(time=max(0, tick - last_tick)))
            last_tick = max(last_tick, tick)
        midi.tracks.append(track)
    try:
        midi.save(path)
    except OSError as e:
        raise JamdError(f"{path}: cannot write MIDI file ({e.strerror})") from None
