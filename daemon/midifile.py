"""Standard MIDI files in and out: the one place jamd reads a MIDI file into notes or writes one.

Reading gives notes in beats (ticks / ticks_per_beat, so the tempo does not move them), the bars
from the file's time-signature events, its first tempo and key; writing takes tracks of timed
messages or of notes and writes the tempo and the real time signatures. mido only: the daemon
(``jamd play``) and training (``training/readers.py``) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import mido

from jamd.daemon.encoding import Note
from jamd.daemon.errors import JamdError
from jamd.daemon.metre import Metre

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0 as mido does
TICKS_PER_BEAT = 480


@dataclass(frozen=True)
class MidiSong:
    """What a MIDI file holds, in beats. ``key``: mido's spelling (``"Bb"``, ``"F#m"``) or None."""

    notes: list[Note]
    metre: Metre
    bpm: float | None  # the first set_tempo; None if the file has none (120 by the standard)
    key: str | None


def open_midi(path: Path) -> mido.MidiFile:
    """The parsed file; JamdError naming it and saying what to do if it is missing or unreadable."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise JamdError(f"{path}: the file is empty (0 bytes); export it again as a Standard MIDI file")
        return mido.MidiFile(path)
    except FileNotFoundError:
        raise JamdError(f"{path}: MIDI file not found") from None
    except JamdError:
        raise
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise JamdError(f"{path}: not a readable MIDI file ({str(e) or type(e).__name__}); "
                        "export it again as a Standard MIDI file") from None


def read_song(path: Path) -> MidiSong:
    """Notes (every track and channel but drums), bars, tempo and key of a MIDI file.

    Note-on with velocity 0 is a note-off; a pitch struck again before its note-off is closed
    oldest-first; notes still sounding at the end of a track end there.
    """
    midi = open_midi(path)
    tpb = midi.ticks_per_beat
    notes: list[Note] = []
    signatures: dict[float, tuple[float, int, int]] = {}
    key = bpm = None
    end = 0
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], list[int]] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "key_signature" and key is None:
                key = msg.key
            elif msg.type == "set_tempo" and bpm is None:
                bpm = mido.tempo2bpm(msg.tempo)
            elif msg.type == "time_signature":
                signatures[tick / tpb] = (tick / tpb, msg.numerator, msg.denominator)
            if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
                continue
            _close_or_open(sounding, msg, tick, lambda began, end, pitch: notes.append(
                Note(began / tpb, (end - began) / tpb, pitch)))
        for (_, pitch), starts in sounding.items():
            notes.extend(Note(s / tpb, (tick - s) / tpb, pitch) for s in starts)
        end = max(end, tick)
    notes.sort(key=lambda n: (n.start, n.pitch))
    last = max([end / tpb] + [n.start + n.duration for n in notes])
    return MidiSong(notes, Metre.from_signatures(list(signatures.values()), last), bpm, key)


def read_tracks(path: Path) -> list[tuple[str, list[Note]]]:
    """``(track name, notes in beats)`` per track, drums included, as ``jamd-train generate`` and
    ``jamd play`` write them (one part per track)."""
    midi = open_midi(path)
    tpb = midi.ticks_per_beat
    tracks = []
    for track in midi.tracks:
        name, tick, notes = "", 0, []
        sounding: dict[tuple[int, int], list[int]] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = msg.name
            elif msg.type in ("note_on", "note_off"):
                _close_or_open(sounding, msg, tick, lambda began, end, pitch: notes.append(
                    Note(began / tpb, (end - began) / tpb, pitch)))
        for (_, pitch), starts in sounding.items():
            notes.extend(Note(s / tpb, (tick - s) / tpb, pitch) for s in starts)
        tracks.append((name, sorted(notes, key=lambda n: (n.start, n.pitch))))
    return tracks


def read_timed_notes(path: Path) -> list[tuple[float, float, int, int]]:
    """``(start, end, pitch, velocity)`` per note in seconds, the file's tempo changes applied;
    drums left out: what a renderer plays."""
    notes, now = [], 0.0
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for msg in open_midi(path):  # iterating a MidiFile merges the tracks, delta times in seconds
        now += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        held = sounding.setdefault((msg.channel, msg.note), [])
        if msg.type == "note_on" and msg.velocity > 0:
            held.append((now, msg.velocity))
        elif held:
            began, velocity = held.pop(0)
            notes.append((began, now, msg.note, velocity))
    notes += [(began, now, pitch, velocity) for (_, pitch), held in sounding.items() for began, velocity in held]
    return sorted(notes)


def _close_or_open(sounding: dict, msg, tick: int, close) -> None:
    """One note-on/off: a note-on opens (velocity 0 is a note-off); a note-off closes the oldest
    open note of its channel and pitch (a pitch struck twice is closed first-in, first-out)."""
    held = sounding.setdefault((msg.channel, msg.note), [])
    if msg.type == "note_on" and msg.velocity > 0:
        held.append(tick)
    elif held:
        close(held.pop(0), tick, msg.note)


def write_tracks(path: Path, tracks: Sequence[tuple[str, list]], bpm: float,
                 signatures: Sequence[tuple[float, int, int]] = ((0.0, 4, 4),)) -> None:
    """A type-1 MIDI file, one track per (name, events), at ``bpm``, with ``signatures`` (beat, n, d).

    Events are either ``Note``s (beats; channel 1, velocity 80) or ``(seconds, mido.Message)``
    pairs, as the engine schedules them.
    """
    tempo = mido.bpm2tempo(bpm)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    for index, (name, events) in enumerate(tracks):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        timed = []  # (tick, order, message): offs before ons on one tick, so a repeated pitch re-strikes
        if index == 0:
            timed.append((0, -2, mido.MetaMessage("set_tempo", tempo=tempo)))
            timed += [(round(at * TICKS_PER_BEAT), -1, mido.MetaMessage("time_signature", numerator=n,
                                                                          denominator=d))
                      for at, n, d in signatures]
        for i, event in enumerate(events):
            if isinstance(event, Note):
                on = round(event.start * TICKS_PER_BEAT)
                off = max(on + 1, round((event.start + event.duration) * TICKS_PER_BEAT))
                timed += [(on, 1, mido.Message("note_on", note=event.pitch, velocity=80)),
                          (off, 0, mido.Message("note_off", note=event.pitch, velocity=0))]
            else:
                when, msg = event
                timed.append((max(0, round(mido.second2tick(when, TICKS_PER_BEAT, tempo))), 2 + i, msg))
        now = 0
        for tick, _, msg in sorted(timed, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    try:
        midi.save(str(path))
    except OSError as e:
        raise JamdError(f"{path}: cannot write MIDI file ({e.strerror})") from None
