"""Continue the opening of a real song with an exported model, and write both to a MIDI file.

Runs the ONNX model through the daemon's own ``StepModel`` (onnxruntime, state carried one grid
step at a time), so what you hear is what the daemon would play; no Keras involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from daemon.encoding import Note, notes_to_tokens, tokens_to_notes
from daemon.errors import JamdError
from daemon.model import StepModel, load_model, sample

TICKS_PER_BEAT = 480


@dataclass(frozen=True)
class GenerateSettings:
    prime_bars: int = 4  # bars of the song fed to the model before it plays
    bars: int = 16  # bars the model continues with
    beats_per_bar: int = 4  # quarter notes per bar (files do not always say)
    temperature: float = 1.0  # 0 = always the likeliest token
    top_k: int = 0  # sample among the k likeliest only; 0 = all
    seed: int | None = None
    bpm: float = 120.0  # tempo written to the MIDI file, quarter notes per minute


def prime_tokens(path: str | Path, steps_per_beat: int, settings: GenerateSettings) -> tuple[str, list[str]]:
    """(song name, its first ``prime_bars`` bars as tokens beginning with ``start``)."""
    from training.corpus import read_notes  # music21 only for the formats that need it

    songs = [(name, notes) for name, notes, _ in read_notes(path) if notes]
    if not songs:
        raise JamdError(f"{path}: no notes found to prime the model with; give a song file (.krn .abc .mid .xml)")
    name, notes = songs[0]
    tokens = notes_to_tokens(notes, steps_per_beat)
    steps = settings.prime_bars * settings.beats_per_bar * steps_per_beat
    return name, tokens[: 1 + steps]


def continue_tokens(model: StepModel, prime: list[str], steps: int, settings: GenerateSettings) -> list[str]:
    """``steps`` tokens sampled after feeding ``prime`` (which begins with ``start``)."""
    vocab = model.vocab
    rng = np.random.default_rng(settings.seed)
    model.reset()
    probs = None
    for token_id in vocab.encode(prime):
        probs = model.step(token_id)
    out = []
    for _ in range(steps):
        token_id = sample(probs, settings.temperature, settings.top_k, rng)
        out.append(vocab.tokens[token_id])
        probs = model.step(token_id)
    return out


def write_midi(path: Path, tracks: list[tuple[str, list[Note]]], bpm: float) -> None:
    """One MIDI track per (name, notes); note times in beats. Type 1 file, channel 1, velocity 80."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    for i, (name, notes) in enumerate(tracks):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if i == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
        events = []
        for note in notes:
            on = round(note.start * TICKS_PER_BEAT)
            off = max(on + 1, round((note.start + note.duration) * TICKS_PER_BEAT))
            # Offs sort before ons at the same tick, so a repeated pitch is re-struck, not cut.
            events += [(on, 1, mido.Message("note_on", note=note.pitch, velocity=80)),
                       (off, 0, mido.Message("note_off", note=note.pitch, velocity=0))]
        now = 0
        for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    midi.save(str(path))


def generate(model_name: str | Path, prime_path: str | Path, out: Path, settings: GenerateSettings) -> dict:
    """Prime the model with ``prime_path``'s opening, continue it, write ``out``; return a summary."""
    model = load_model(model_name)
    if model.sidecar.kind == "chords":  # it scores chords, not next melody tokens
        raise JamdError(f"{model.name} is a chords model: it accompanies a melody rather than writing one; "
                        f"try `jamd play MELODY.mid -o OUT.mid --mode chords --model {model.name}`")
    spb = model.steps_per_beat
    name, prime = prime_tokens(prime_path, spb, settings)
    steps = settings.bars * settings.beats_per_bar * spb
    continuation = continue_tokens(model, prime, steps, settings)
    prime_notes = tokens_to_notes(prime, spb)
    offset = (len(prime) - 1) / spb
    new_notes = [Note(n.start + offset, n.duration, n.pitch) for n in tokens_to_notes(continuation, spb)]
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise JamdError(f"{out}: directory {out.parent} does not exist")
    write_midi(out, [(f"prime: {name}", prime_notes), (f"{model.name} continuation", new_notes)], settings.bpm)
    return {"prime": name, "prime_notes": len(prime_notes), "notes": len(new_notes), "steps": steps}
