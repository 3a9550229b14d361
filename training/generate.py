"""Continue the opening of a real song with an exported model, and write both to a MIDI file.

Runs the ONNX model through the daemon's own ``StepModel`` (onnxruntime, state carried one grid
step at a time), so what you hear is what the daemon would play; no Keras involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jamd.daemon.encoding import Note, notes_to_tokens, tokens_to_notes
from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import require_melody
from jamd.daemon.metre import Bar, MetreError, regular_bars, token_positions
from jamd.daemon.midifile import read_song, write_tracks
from jamd.daemon.model import StepModel, load_model, sample


@dataclass(frozen=True)
class GenerateSettings:
    prime_bars: int = 4  # bars of the song fed to the model before it plays
    bars: int = 16  # bars the model continues with
    beats_per_bar: int = 0  # quarter notes per bar; 0 = the prime's own bars (a file without bar lines: 4)
    temperature: float = 1.0  # 0 = always the likeliest token
    top_k: int = 0  # sample among the k likeliest only; 0 = all
    seed: int | None = None
    bpm: float = 0.0  # tempo of the MIDI file, quarter notes per minute; 0 = the prime's (MIDI) or 120


@dataclass(frozen=True)
class Prime:
    """A song's opening on the grid, with its bars: what ``generate`` feeds and writes."""

    name: str
    tokens: list[str]  # "start" + one per step from grid step ``first``
    first: int  # grid step (from the song's beat 0) of tokens[1]
    bars: list[Bar]
    bpm: float | None  # the file's tempo, if it says


def song_bars(metre, notes: list[Note], steps_per_beat: int, beats_per_bar: int) -> list[Bar]:
    """The prime's bars on the grid: its own (``beats_per_bar`` 0), else regular ones from its first note."""
    if not beats_per_bar:
        try:
            if not isinstance(metre, MetreError):
                return metre.on_grid(steps_per_beat)[0]
        except MetreError:
            pass
        beats_per_bar = 4
    first = round(min(n.start for n in notes) * steps_per_beat)
    last = round(max(n.start + n.duration for n in notes) * steps_per_beat) + 1
    return regular_bars(beats_per_bar * steps_per_beat, first, last, downbeat=first)


def prime_tokens(path: str | Path, steps_per_beat: int, settings: GenerateSettings) -> Prime:
    """The first ``prime_bars`` whole bars of the song (a pickup comes with them, uncounted)."""
    from jamd.training.corpus import read_notes  # music21 only for the formats that need it

    songs = [(name, notes, metre) for name, notes, _, metre in read_notes(path) if notes]
    if not songs:
        raise JamdError(f"{path}: no notes found to prime the model with; give a song file (.krn .abc .mid .xml)")
    name, notes, metre = songs[0]
    bars = song_bars(metre, notes, steps_per_beat, settings.beats_per_bar)
    tokens = notes_to_tokens(notes, steps_per_beat)
    first = round(min(n.start for n in notes) * steps_per_beat)
    downbeats = [b.start for b in bars if b.start >= first]
    cut = downbeats[settings.prime_bars] if len(downbeats) > settings.prime_bars else first + len(tokens) - 1
    bpm = None
    if Path(str(path)).suffix.lower() in (".mid", ".midi"):
        bpm = read_song(Path(path)).bpm
    return Prime(name, tokens[: 1 + cut - first], first, bars, bpm)


def continue_tokens(model: StepModel, prime: Prime, steps: int, settings: GenerateSettings) -> list[str]:
    """``steps`` tokens sampled after feeding the prime (its tokens with their bar positions)."""
    vocab = model.vocab
    rng = np.random.default_rng(settings.seed)
    total = len(prime.tokens) + steps
    where = token_positions(prime.bars, prime.first, total)
    model.reset()
    probs = None
    for probs in model.run(vocab.encode(prime.tokens), where):
        pass
    out = []
    for i in range(len(prime.tokens), total):
        token_id = sample(probs, settings.temperature, settings.top_k, rng)
        out.append(vocab.tokens[token_id])
        probs = model.step(token_id, int(where[i, 0]), int(where[i, 1]))
    return out


def file_signatures(bars: list[Bar], steps_per_beat: int, shift: int) -> list[tuple[float, int, int]]:
    """(beat, numerator, denominator) at each bar whose length differs from the bar before it."""
    out, last = [], None
    for bar in bars:
        if bar.length != last:
            quarters = bar.length / steps_per_beat
            n, d = (round(quarters), 4) if quarters == int(quarters) else (round(quarters * 2), 8)
            out.append(((max(bar.start, -shift) + shift) / steps_per_beat, n, d))
            last = bar.length
    return out


def generate(model_name: str | Path, prime_path: str | Path, out: Path, settings: GenerateSettings) -> dict:
    """Prime the model with ``prime_path``'s opening, continue it, write ``out``; return a summary.

    The file keeps the song's bars and time signatures (a pickup is padded to a whole bar), so
    a sequencer or the piano roll shows the real bar lines.
    """
    model = load_model(model_name)
    require_melody(model.sidecar.model_kind, model.name, "generate")
    spb = model.steps_per_beat
    prime = prime_tokens(prime_path, spb, settings)
    end = prime.first + len(prime.tokens) - 1  # the grid step the continuation begins on
    bar = next((b.length for b in prime.bars if b.start <= end < b.start + b.length), prime.bars[-1].length)
    steps = settings.bars * bar
    target = end + steps
    continuation = continue_tokens(model, prime, steps, settings)
    shift = max(0, -prime.bars[0].start)  # a pickup's bar starts before beat 0: the file begins with it
    at = (prime.first + shift) / spb
    prime_notes = [Note(n.start + at, n.duration, n.pitch) for n in tokens_to_notes(prime.tokens, spb)]
    later = (end + shift) / spb
    new_notes = [Note(n.start + later, n.duration, n.pitch) for n in tokens_to_notes(continuation, spb)]
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise JamdError(f"{out}: directory {out.parent} does not exist")
    bpm = settings.bpm or prime.bpm or 120.0
    write_tracks(out, [(f"prime: {prime.name}", prime_notes), (f"{model.name} continuation", new_notes)], bpm,
                 file_signatures([b for b in prime.bars if b.start < target], spb, shift))
    return {"prime": prime.name, "prime_notes": len(prime_notes), "notes": len(new_notes), "steps": steps}
