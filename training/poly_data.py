"""Polyphonic corpora -> ``PolySong``s for the polyphonic model (issue 14), cached per file.

Every note of a file counts, whatever part or track it is in: the piano pieces of
``piano-midi``, music21's four-part Bach chorales (``music21:bach``; a file that is not in
four parts is skipped), the full Nottingham MIDI files (melody and chord tracks together).
Each becomes one token sequence of ``daemon/poly_encoding.py`` with its bars
(``daemon/metre.py``). A song is skipped, and counted, when it has fewer than ``MIN_NOTES``
notes, its onsets miss the grid (``training/corpus.py``'s rule) or its bar lines cannot be placed.

Position fed with each token: that of the grid step the next token belongs to (the step the
model is writing). Inside a step that is the step itself; after its ``step`` token, the next one.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from jamd.daemon import poly_encoding as poly
from jamd.daemon.encoding import Note
from jamd.daemon.errors import JamdError
from jamd.daemon.metre import Bar, MetreError, positions
from jamd.training import readers
from jamd.training.corpus import (OFF_GRID_SHARE, OFF_GRID_TOLERANCE, _cache_file, _cache_read, _cache_write,
                                  default_cache_dir)
from jamd.training.sources import resolve

CACHE_VERSION = 1
MIN_NOTES = 16
PARTS = {"music21:bach/": 4}  # sources whose files must hold this many parts (the chorales)


@dataclass(frozen=True)
class PolySong:
    name: str
    tokens: tuple[str, ...]  # poly_encoding tokens from "start"
    key: str | None
    first: int  # the grid step (from beat 0) of the first step
    bars: tuple[Bar, ...]

    def positions(self) -> np.ndarray:
        """[len(tokens), 2] (bar_step, bar_steps) to feed with each token: the next token's step."""
        is_step = np.asarray([t == poly.STEP for t in self.tokens])
        # The step the next token belongs to: the first step, plus one per `step` read so far.
        writing = self.first + np.cumsum(is_step)
        return _at(self.bars, writing)

    def melody_key(self) -> tuple[int, ...]:
        """The top line's intervals (highest pitch struck on each step): equal for the same tune
        harmonised twice (the chorales) or transposed, so the split keeps them together."""
        tops, current = [], None
        for token in self.tokens:
            if token.startswith(poly.ON) and current is None:
                current = poly.token_pitch(token)
            elif token == poly.STEP and current is not None:
                tops.append(current)
                current = None
        return tuple(b - a for a, b in zip(tops, tops[1:]))


def _at(bars: Sequence[Bar], steps: np.ndarray) -> np.ndarray:
    first = int(steps.min())
    table = positions(bars, first, int(steps.max()) - first + 1)
    return table[steps - first]


class Skipped(Exception):
    pass


def encode_poly(notes: list[Note], metre, steps_per_beat: int, parts: int | None = None,
                found_parts: int | None = None) -> tuple[list[str], int, list[Bar]]:
    """(tokens, first step, bars) of one song; Skipped with the reason otherwise."""
    if parts is not None and found_parts != parts:
        raise Skipped(f"not in {parts} parts ({found_parts})")
    if len(notes) < MIN_NOTES:
        raise Skipped(f"too short: {len(notes)} notes (need {MIN_NOTES})")
    misses = sum(abs(n.start * steps_per_beat - round(n.start * steps_per_beat)) > OFF_GRID_TOLERANCE for n in notes)
    if misses > OFF_GRID_SHARE * len(notes):
        raise Skipped(f"tuplets/off-grid onsets: {misses} of {len(notes)} onsets off the grid")
    if isinstance(metre, MetreError):
        raise Skipped(f"bar lines: {metre}")
    try:
        bars, _ = metre.on_grid(steps_per_beat)
    except MetreError as e:
        raise Skipped(f"bar lines: {e}") from None
    first = round(min(n.start for n in notes) * steps_per_beat)
    return poly.encode(notes, steps_per_beat), first, bars


def _read(task: tuple) -> tuple[list, list, int]:
    """Read + encode one file (in a worker process): the cache entry (songs, skipped, warnings)."""
    path, steps_per_beat, parts = task
    found_parts = None
    if parts is not None:
        read, found_parts = _read_parts(Path(path))
    else:
        read = readers.read_file(Path(path))
    songs, skipped = [], list(read.skipped)
    for suffix, notes, key, metre in read.songs:
        try:
            tokens, first, bars = encode_poly(notes, metre, steps_per_beat, parts, found_parts)
        except Skipped as e:
            skipped.append((suffix, str(e)))
            continue
        songs.append((suffix, tokens, key or readers.analyse_key(notes), first, [[b.start, b.length] for b in bars]))
    return songs, skipped, read.warnings


def _read_parts(path: Path):
    """``readers.read_file`` for a score, and how many parts it has."""
    result = readers.ReadResult()
    with readers.silenced(result):
        try:
            score = readers.parse_score(path)
            parts = len(score.parts)
            result.songs.append(("", readers.score_notes(score), readers.score_key(score),
                                 readers._metre_or_error(score)))
        except Exception as e:  # noqa: BLE001 -- music21 raises anything on a bad file
            result.skipped.append(("", f"music21 could not parse it: {type(e).__name__}"))
            parts = None
    return result, parts


def load_poly(sources: Sequence[str], steps_per_beat: int = 4, limit: int | None = None,
              workers: int | None = None, progress: bool = True) -> tuple[list[PolySong], list[tuple[str, str]], int]:
    """(songs, skipped (name, reason), music21 warnings) of every file of ``sources``, in order."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tqdm import tqdm

    files = [found for source in sources for found in resolve(source)][: limit or None]
    settings = {"poly": CACHE_VERSION, "steps_per_beat": steps_per_beat, "min_notes": MIN_NOTES}
    cache_dir = default_cache_dir()
    entries, todo = {}, []
    for i, (path, name) in enumerate(files):
        parts = next((n for prefix, n in PARTS.items() if name.startswith(prefix)), None)
        cache = _cache_file(cache_dir, path.read_bytes(), path.suffix + f"|parts={parts}", settings)
        entry = _cache_read(cache)
        if entry is None:
            todo.append((i, cache, (str(path), steps_per_beat, parts)))
        else:
            entries[i] = entry
    workers = workers or os.cpu_count() or 1
    with tqdm(total=len(todo), desc="parsing corpus", unit="file", file=sys.stderr,
              disable=not progress or not todo) as bar:
        if workers > 1 and len(todo) > 16:
            # spawn, not fork: TensorFlow's threads may be running already.
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                results = pool.map(_read, [t for _, _, t in todo], chunksize=4)
                for (i, cache, _), entry in zip(todo, results):
                    entries[i] = entry
                    _store(cache, entry)
                    bar.update()
        else:
            for i, cache, task in todo:
                entries[i] = _read(task)
                _store(cache, entries[i])
                bar.update()
    songs, skipped, warnings = [], [], 0
    for i, (_, name) in enumerate(files):
        found, missed, count = entries[i]
        songs += [PolySong(name + s, tuple(tokens), key, first, tuple(Bar(*b) for b in bars))
                  for s, tokens, key, first, bars in found]
        skipped += [(name + s, reason) for s, reason in missed]
        warnings += count
    if not songs:
        raise JamdError(f"no usable polyphonic song in {', '.join(sources)} "
                        f"(skipped: {[r for _, r in skipped[:3]] or 'no files'})")
    return songs, skipped, warnings


def _store(cache: Path, entry) -> None:
    try:
        _cache_write(cache, entry)
    except OSError:  # a read-only or full cache disk only costs speed next time
        pass
