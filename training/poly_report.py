"""``jamd-train audition-poly MODEL...``: what a keyboard partner plays, beside the real music.

For each held-out piece (the first model's validation pieces, or ``--pieces``) the opening
``--phrase-bars`` bars, every part, are played into the engine ``jamd play`` uses, in respond
mode; then the player stops. jamd's answer window is the ``answer_bars`` bars from the first
beat after the pause (``answer_after_bars``). Figures (issue 14), over that window, pooled over
pieces and seeds, for each model, for the real continuation (the piece's own next bars) and for
random in-key notes with the real continuation's rhythm and chord sizes:

- ``in_key``: share of struck notes in the piece's key (its file key, else analysed);
- ``chords_3``: share of onset steps (grid steps where anything is struck) striking 3+ notes;
- ``sounding``: notes sounding on average over the window's grid steps, silent steps included;
- ``silent``: share of the window's grid steps with nothing sounding;
- ``leaps``: top-line intervals (highest note struck per onset step) larger than a fifth;
- ``steps``: top-line intervals of one or two semitones (a line that moves by step);
- ``held``: struck notes that still sound when a later note is struck (a bass held under a
  moving hand, a chord that sustains), against notes each cut by the next onset.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from jamd.daemon.config import Config
from jamd.daemon.encoding import Note
from jamd.daemon.engine import Engine
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.daemon.offline import simulate
from jamd.training import musicianship as mu
from jamd.training import readers
from jamd.training.playalong import played_notes, player_events

STEPS_PER_BEAT = 4
TARGETS = {"in_key": (">=", 0.90), "chords_3": ("±30% of real", None), "sounding": (">=", 1.8),
           "leaps": ("<=", 0.30), "silent": ("<=", 0.15), "steps": ("as real", None), "held": ("as real", None)}
FIGURES = ("in_key", "chords_3", "sounding", "silent", "leaps", "steps", "held")


def piece_notes(name: str) -> tuple[list[Note], str, float]:
    """(notes in beats, key, beats per bar) of a held-out piece, read as training read it."""
    from jamd.training.sources import resolve

    path = resolve(name)[0][0]
    read = readers.read_file(path)
    if not read.songs:
        raise JamdError(f"{name}: cannot be read ({read.skipped[:1]})")
    _, notes, key, metre = read.songs[0]
    bar = 4.0
    if not isinstance(metre, Exception) and metre.bars:
        bar = max(set(b[1] for b in metre.bars), key=[b[1] for b in metre.bars].count)  # the commonest bar
    return notes, key or readers.analyse_key(notes), bar


def window_figures(notes: Sequence[Note], begin: float, end: float, key: str) -> dict:
    """The figures' counts for ``notes`` (beats) over ``begin``..``end`` (beats)."""
    struck = [n for n in notes if begin - 1e-6 <= n.start < end - 1e-6]
    steps = np.arange(round(begin * STEPS_PER_BEAT), round(end * STEPS_PER_BEAT)) / STEPS_PER_BEAT
    sounding = [sum(1 for n in notes if n.start <= t + 1e-6 < n.start + n.duration) for t in steps]
    onsets: dict[int, list[int]] = {}
    for n in struck:
        onsets.setdefault(round(n.start * STEPS_PER_BEAT), []).append(n.pitch)
    tops = [max(onsets[s]) for s in sorted(onsets)]
    leaps = [abs(b - a) > 7 for a, b in zip(tops, tops[1:])]
    steps_moved = [1 <= abs(b - a) <= 2 for a, b in zip(tops, tops[1:])]
    starts = sorted(onsets)
    held = [any(n.start * STEPS_PER_BEAT < s < (n.start + n.duration) * STEPS_PER_BEAT - 1e-6 for s in starts)
            for n in struck]
    key_share = mu.in_key([n.pitch for n in struck], key)
    return {"in_key": [key_share.hits, key_share.total],
            "chords_3": [sum(len(p) >= 3 for p in onsets.values()), len(onsets)],
            "sounding": [sum(sounding), len(steps)],
            "silent": [sum(s == 0 for s in sounding), len(steps)],
            "leaps": [sum(leaps), len(leaps)],
            "steps": [sum(steps_moved), len(steps_moved)],
            "held": [sum(held), len(held)]}


def _add(total: dict, counts: dict) -> None:
    for k, (hits, n) in counts.items():
        total.setdefault(k, [0, 0])
        total[k][0] += hits
        total[k][1] += n


def random_in_key(notes: Sequence[Note], key: str, rng: np.random.Generator) -> list[Note]:
    """``notes`` with each pitch replaced by a random one of ``key`` in their register (same rhythm, chord sizes)."""
    if not notes:
        return []
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    scale = mu.scale(key)
    pool = [p for p in range(low, max(high, low + 12) + 1) if p % 12 in scale]
    out, used = [], {}
    for n in notes:
        taken = used.setdefault(n.start, set())
        choices = [p for p in pool if p not in taken] or pool
        pitch = int(rng.choice(choices))
        taken.add(pitch)
        out.append(Note(n.start, n.duration, pitch))
    return out


def audition_poly(models: Sequence[str], pieces: Sequence[str] | None = None, seeds: int = 3,
                  phrase_bars: int = 4, config: Config | None = None, limit: int = 40,
                  split: str = "validation") -> dict:
    """Figures per side (each model, real, random) over ``pieces``, by default the first model's
    held-out ones (``split="train"``: pieces it trained on, to choose settings by)."""
    loaded = [load_model(m) for m in models]
    split = "given" if pieces else split
    if not pieces and split == "train":
        from jamd.training.poly_data import load_poly

        songs, _, _ = load_poly(loaded[0].sidecar.corpus.get("sources", []), progress=False)
        held = set(loaded[0].sidecar.training.get("validation_songs") or [])
        rest = [s.name for s in songs if s.name not in held]
        pieces = rest[:: max(1, len(rest) // limit)]
    names = [m.name for m in loaded]
    labels = [m.name if names.count(m.name) == 1 else f"{Path(ref).parent.name}/{m.name}" for m, ref in zip(loaded, models)]
    if not pieces:
        held = list(loaded[0].sidecar.training.get("validation_songs") or [])
        pieces = held[:: max(1, len(held) // limit)]  # spread over the collections, in corpus order
    pieces = list(pieces)[:limit]
    if not pieces:
        raise JamdError(f"{models[0]}: its sidecar lists no validation pieces; give --pieces")
    config = (config or Config()).replace(mode="respond", infer_bar=False, count_off=False, metronome=False,
                                          thru=False, tempo=120.0)
    sides: dict[str, dict] = {label: {} for label in labels}
    sides.update(real={}, random={})
    used, skipped = [], []
    rng = np.random.default_rng(0)
    for name in pieces:
        try:
            notes, key, bar = piece_notes(name)
        except JamdError as e:
            skipped.append(str(e))
            continue
        first = min(n.start for n in notes)
        phrase = phrase_bars * bar  # beats from the first note, as everything below
        length = config.answer_bars * bar
        if max(n.start for n in notes) - first < phrase + length:
            skipped.append(f"{name}: shorter than {phrase_bars} + {config.answer_bars:g} bars")
            continue
        used.append(name)
        notes = [Note(n.start - first, n.duration, n.pitch) for n in notes]
        opening = [Note(n.start, min(n.duration, phrase - n.start), n.pitch) for n in notes if n.start < phrase - 1e-6]
        # Where respond comes in: the first beat a pause of answer_after_bars after the last key is let go.
        last_off = max(n.start + n.duration for n in opening)
        start = float(math.ceil(math.ceil(last_off * STEPS_PER_BEAT - 1e-6) / STEPS_PER_BEAT
                                + config.answer_after_bars * bar - 1e-6))
        window = (start, start + length)
        # The real continuation: the bars right after the opening, moved to the answer window.
        real = [Note(n.start - phrase + start, n.duration, n.pitch) for n in notes if phrase - 1e-6 <= n.start < phrase + length]
        _add(sides["real"], window_figures(real, *window, key))
        _add(sides["random"], window_figures(random_in_key(real, key, rng), *window, key))
        beat = 60.0 / config.tempo
        events = player_events(opening, config.tempo)
        beats_per_bar = max(1, round(bar))
        for label, model in zip(labels, loaded):
            for seed in range(seeds):
                engine = Engine(config.replace(beats_per_bar=beats_per_bar, seed=seed), model,
                                np.random.default_rng(seed))
                out = simulate(engine, events, (window[1] + 1) * beat)
                own = played_notes(out, config.channel - 1, config.tempo)
                _add(sides[label], window_figures(own, *window, key))
    figures = {side: {k: (round(h / n, 4) if n else None) for k, (h, n) in counts.items()}
               for side, counts in sides.items()}
    return {"models": labels, "split": split, "pieces": used, "skipped": skipped, "seeds": seeds,
            "phrase_bars": phrase_bars, "answer_bars": config.answer_bars, "figures": figures, "counts": sides,
            "targets": {k: list(v) for k, v in TARGETS.items()}}


def format_report(report: dict) -> str:
    sides = list(report["figures"])
    width = max(12, *(len(s) + 2 for s in sides))
    which = {"validation": "held-out", "train": "training"}.get(report.get("split"), "given")
    rows = [f"{len(report['pieces'])} {which} pieces × {report['seeds']} seeds, answers of "
            f"{report['answer_bars']:g} bars after a {report['phrase_bars']}-bar opening",
            f"{'figure':<12}" + "".join(f"{s:>{width}}" for s in sides) + "   target"]
    for k in FIGURES:
        cells = "".join(f"{'-' if report['figures'][s].get(k) is None else report['figures'][s][k]:>{width}}"
                        for s in sides)
        rule, value = TARGETS[k]
        rows.append(f"{k:<12}{cells}   {rule} {'' if value is None else value}")
    return "\n".join(rows)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("audition-poly", help="what a polyphonic partner plays in respond mode, beside "
                              "the real music (notes in key, chords, notes sounding, leaps, silence)",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("models", nargs="+", metavar="MODEL", help="models to compare (names or .onnx paths); "
                   "the first one's validation pieces are played unless --pieces")
    p.add_argument("--pieces", nargs="*", help="pieces to play (files or music21: names)")
    p.add_argument("--seeds", type=int, default=3, help="engine seeds per piece (default 3)")
    p.add_argument("--phrase-bars", type=int, default=4, help="bars of each piece played in (default 4)")
    p.add_argument("--limit", type=int, default=40, help="at most this many pieces (default 40)")
    p.add_argument("--split", choices=("validation", "train"), default="validation",
                   help="the first model's held-out pieces (default), or pieces it trained on, to choose settings by")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=command)


def command(args) -> int:
    from jamd.training.cli import merged

    values = merged(args)
    report = audition_poly(values["models"], values.get("pieces"), values.get("seeds", 3),
                           values.get("phrase_bars", 4), limit=values.get("limit", 40),
                           split=values.get("split", "validation"))
    print(json.dumps(report, indent=1) if values.get("json") else format_report(report))
    return 0
