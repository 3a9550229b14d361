"""Pictures of what a model plays: a piano roll of one continuation, and histograms of many
generated songs against the corpus (`jamd-train compare`). matplotlib with the Agg backend:
no display needed, PNG out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from jamd.daemon.encoding import HOLD, START, Note, token_pitches, tokens_to_notes
from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import require_melody
from jamd.daemon.metre import token_positions

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PRIME_COLOUR, MODEL_COLOUR = "#4c72b0", "#dd8452"  # blue for what the player gave, orange for the model
MAX_INTERVAL = 12  # semitones; wider leaps are counted in the outermost bins
MAX_DURATION = 16  # grid steps; longer notes are counted in the last bin


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: a server or CI has no display
    import matplotlib.pyplot as plt

    return plt


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name, 60 = C4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def piano_roll(prime_notes: Sequence[Note], continuation_notes: Sequence[Note], steps_per_beat: int,
               bars: int | Sequence[tuple[float, float]], path: Path, title: str = "") -> Path:
    """Draw prime and continuation (notes in beats from the start) as one piano roll PNG.

    ``bars``: (start, length) of each bar in beats, as the file's time signatures lay them out
    (``jamd.daemon.metre.Metre``), or a number of beats per bar from beat 0. Bar lines dark, beat
    lines faint, the grid step as the x resolution; the pitch axis is labelled with note names
    (every C, or every note when the range is narrow).
    """
    notes = list(prime_notes) + list(continuation_notes)
    if not notes:
        raise JamdError(f"{path}: nothing to draw, the prime and the continuation have no notes")
    plt = _pyplot()
    end = max(n.start + n.duration for n in notes)
    low, high = min(n.pitch for n in notes) - 1, max(n.pitch for n in notes) + 1
    fig, ax = plt.subplots(figsize=(max(6.0, min(24.0, end * 0.25)), max(3.0, min(10.0, (high - low) * 0.2))))
    for group, colour, label in ((prime_notes, PRIME_COLOUR, "prime"), (continuation_notes, MODEL_COLOUR, "model")):
        for i, n in enumerate(group):
            ax.broken_barh([(n.start, max(n.duration, 1 / steps_per_beat) * 0.97)], (n.pitch - 0.4, 0.8),
                           facecolors=colour, label=label if i == 0 else None)
    if isinstance(bars, int):
        bars = [(float(b), float(bars)) for b in range(0, int(end) + bars, bars)]
    lines = {round(start + length, 6) for start, length in bars} | {round(start, 6) for start, _ in bars}
    for beat in np.arange(0, end + 1e-9, 1.0):
        if round(beat, 6) not in lines:
            ax.axvline(beat, color="0.85", linewidth=0.5, zorder=0)
    for line in sorted(lines):
        if 0 <= line <= end:
            ax.axvline(line, color="0.3", linewidth=1.0, zorder=0)
    lengths = sorted({length for _, length in bars})
    if continuation_notes:
        ax.axvline(min(n.start for n in continuation_notes), color=MODEL_COLOUR, linestyle="--", linewidth=1.2)
    ticks = [p for p in range(low, high + 1) if high - low <= 24 or p % 12 == 0]
    ax.set_yticks(ticks, [note_name(p) for p in ticks])
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.set_xlim(0, end)
    every = f"every {lengths[0]:g}" if len(lengths) == 1 else "as the song's bars"
    ax.set_xlabel(f"beats (bar lines {every}; grid 1/{steps_per_beat} beat)")
    ax.set_title(title or "prime and continuation")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_generated(midi_path: Path, png_path: Path, steps_per_beat: int) -> Path:
    """Piano roll of a ``jamd-train generate`` MIDI file: its prime track, then the model's, with the
    bar lines of the file's time signatures."""
    from jamd.daemon.midifile import read_song, read_tracks

    tracks = [t for t in read_tracks(midi_path) if t[1]]
    if not tracks:
        raise JamdError(f"{midi_path}: no notes to draw")
    prime = tracks[0][1] if len(tracks) > 1 else []
    title = " + ".join(name for name, _ in tracks if name)
    bars = read_song(midi_path).metre.bars
    return piano_roll(prime, tracks[-1][1], steps_per_beat, bars, png_path, title=title)


def song_statistics(songs: Sequence[Sequence[str]], steps_per_beat: int) -> dict[str, Counter]:
    """Counts of pitch classes, melodic intervals (top note to top note) and durations in grid steps."""
    stats = {"pitch class": Counter(), "interval": Counter(), "duration": Counter()}
    for tokens in songs:
        tops = [max(token_pitches(t)) for t in tokens if t not in (START, HOLD) and token_pitches(t)]
        stats["pitch class"].update(p % 12 for t in tokens for p in token_pitches(t))
        stats["interval"].update(max(-MAX_INTERVAL, min(MAX_INTERVAL, b - a)) for a, b in zip(tops, tops[1:]))
        stats["duration"].update(min(MAX_DURATION, round(n.duration * steps_per_beat))
                                 for n in tokens_to_notes(tokens, steps_per_beat))
    return stats


def _bins(name: str) -> list[int]:
    return {"pitch class": list(range(12)), "interval": list(range(-MAX_INTERVAL, MAX_INTERVAL + 1)),
            "duration": list(range(1, MAX_DURATION + 1))}[name]


def _shares(counts: Counter, bins: list[int]) -> np.ndarray:
    values = np.array([counts.get(b, 0) for b in bins], float)
    return values / values.sum() if values.sum() else values


def histogram_distances(corpus: dict[str, Counter], generated: dict[str, Counter]) -> dict[str, float]:
    """Total variation distance (0 = same shape, 1 = disjoint) per histogram."""
    return {name: float(0.5 * np.abs(_shares(corpus[name], _bins(name)) - _shares(generated[name], _bins(name))).sum())
            for name in corpus}


def compare_plot(corpus: dict[str, Counter], generated: dict[str, Counter], path: Path, title: str = "") -> Path:
    """Three histograms side by side, corpus vs generated, as shares of their totals."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    distances = histogram_distances(corpus, generated)
    for ax, name in zip(axes, ("pitch class", "interval", "duration")):
        bins = _bins(name)
        x = np.arange(len(bins))
        ax.bar(x - 0.2, _shares(corpus[name], bins), 0.4, color=PRIME_COLOUR, label="corpus")
        ax.bar(x + 0.2, _shares(generated[name], bins), 0.4, color=MODEL_COLOUR, label="generated")
        labels = NOTE_NAMES if name == "pitch class" else [str(b) for b in bins]
        step = 1 if name != "interval" else 2
        ax.set_xticks(x[::step], labels[::step])
        unit = {"pitch class": "", "interval": " (semitones, ±12 or wider)",
                "duration": f" (grid steps, {MAX_DURATION}+)"}[name]
        ax.set_title(f"{name}{unit}: TV distance {distances[name]:.3f}")
        ax.set_ylabel("share")
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def compare(model_ref: str | Path, data: Sequence[str | Path], path: Path, n: int = 50, seed: int = 0,
            temperature: float = 1.0) -> dict[str, float]:
    """Sample ``n`` songs from the model (from ``start``, each as long as a random corpus song),
    plot their histograms against the corpus in ``path``; return the TV distances."""
    from jamd.daemon.model import load_model, sample
    from jamd.training.corpus import load_corpus

    model = load_model(model_ref)
    require_melody(model.sidecar.model_kind, model.name, "compare")
    settings = model.sidecar.corpus.get("settings", {})
    corpus = load_corpus(list(data), steps_per_beat=model.steps_per_beat,
                         transpose=settings.get("transpose", "none"))
    if not corpus.songs:
        raise JamdError(f"{', '.join(map(str, data))}: no song could be read to compare with")
    rng = np.random.default_rng(seed)
    generated = []
    for _ in range(n):
        song = corpus.songs[rng.integers(len(corpus.songs))]  # its length, and its bars for the position input
        length = len(song.tokens)
        where = token_positions(song.bars, song.first, length) if song.bars else np.zeros((length, 2), int)
        model.reset()
        probs, tokens = model.step(0, *where[0]), ["start"]
        for i in range(1, length):
            token_id = sample(probs, temperature, 0, rng)
            tokens.append(model.vocab.tokens[token_id])
            probs = model.step(token_id, int(where[i, 0]), int(where[i, 1]))
        generated.append(tokens)
    spb = model.steps_per_beat
    real, made = song_statistics([s.tokens for s in corpus.songs], spb), song_statistics(generated, spb)
    compare_plot(real, made, path, f"{model.name}: {n} generated songs vs {len(corpus.songs)} corpus songs")
    return histogram_distances(real, made)


def command(args) -> int:
    """``jamd-train compare MODEL DATA... [-n 50] [-o compare.png]``."""
    distances = compare(args.model, args.data, Path(args.output), args.n, args.seed, args.temperature)
    print(f"wrote {args.output}: total variation distance " +
          ", ".join(f"{name} {d:.3f}" for name, d in distances.items()))
    return 0


def add_parser(subparsers) -> None:
    """The ``compare`` subcommand, for ``training/cli.py``."""
    p = subparsers.add_parser("compare", help="histograms of generated songs against the corpus, one PNG")
    p.add_argument("model", help="model name (models/NAME.onnx) or .onnx path")
    p.add_argument("data", nargs="+", help="corpus files or directories to compare with")
    p.add_argument("-n", type=int, default=50, help="songs to generate (default 50)")
    p.add_argument("-o", "--output", default="compare.png", help="the PNG to write (default compare.png)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1)")
    p.set_defaults(func=command)
