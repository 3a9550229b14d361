"""Real corpora in every format -> encoded songs (grid tokens), parsed in parallel and cached.

``load_corpus(["../shared/data/essen-kern/deutschl"])`` reads every ``.krn .abc .mid .midi
.xml .musicxml .mxl`` file under the given files/directories, plus ``music21:<path|glob>``
names from music21's bundled corpus (``music21:bach``, ``music21:essenFolksong/kinder0.abc``).
Each ABC tune is one song. The per-format details (what is merged, what is dropped) live in
``training/readers.py``.

A song is skipped, with its reason in ``Corpus.skipped``, when it cannot be read, has fewer
than ``MIN_NOTES`` notes, or would be corrupted by the grid (tuplets/off-grid onsets).

The cache holds one JSON entry per file, keyed by the sha256 of the file's bytes, the
encoding settings and ``CACHE_VERSION``; bump the version whenever a reader or the
encoding changes what a file turns into.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

from jamd.daemon.encoding import Note, notes_to_tokens
from jamd.daemon.errors import JamdError
from jamd.daemon.metre import Bar, Metre, MetreError, TimeSignature, token_positions
from jamd.training import readers
from jamd.training.sources import resolve

CACHE_VERSION = 2  # 2: each song's bars
MIN_NOTES = 8
OFF_GRID_TOLERANCE = 0.25  # of a grid step: a sixteenth triplet misses the 16th grid by 1/3
OFF_GRID_SHARE = 0.05  # more onsets than this off the grid and the song is skipped
TRANSPOSE_MODES = ("none", "c")
INLINE_TASKS = 16  # below this many parses a process pool costs more than it saves


@dataclass(frozen=True)
class EncodedSong:
    """One song on the grid: ``tokens`` has one token per grid step after ``start``."""

    name: str  # "dir/file.krn", "dir/jigs.abc#12" (ABC tune X:12), "music21:bach/bwv1.6.mxl"
    tokens: tuple[str, ...]  # jamd.daemon.encoding tokens, beginning with "start"
    key: str | None  # "F major", "a minor" (music21 spelling: "B- major"), from the file or analysed
    first: int = 0  # the grid step (from the song's beat 0) of the first token after "start"
    bars: tuple[Bar, ...] = ()  # jamd.daemon.metre bars in grid steps from beat 0
    signatures: tuple[TimeSignature, ...] = ()

    def positions(self):
        """[len(tokens), 2] (bar_step, bar_steps) to feed with each token (``jamd.daemon.metre``)."""
        return token_positions(self.bars, self.first, len(self.tokens))


@dataclass
class Corpus:
    """Every song ``load_corpus`` could use, in source order, and why the others were not."""

    songs: list[EncodedSong]
    skipped: list[tuple[str, str]]  # (name, reason) for each file/tune that could not be used
    warnings: int  # music21 warnings silenced while parsing (counted, not printed)
    settings: dict  # what the cache key was made of

    def report(self) -> dict:
        """Counts for logs and the model sidecar: songs, tokens, skipped by reason, formats."""
        reasons = Counter(reason.split(":")[0] for _, reason in self.skipped)
        formats = Counter(_format(song.name) for song in self.songs)
        return {
            "songs": len(self.songs),
            "tokens": sum(len(song.tokens) for song in self.songs),
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(reasons.most_common()),
            "first_skipped": [f"{name}: {reason}" for name, reason in self.skipped[:5]],
            "warnings": self.warnings,
            "by_format": dict(sorted(formats.items())),
            "settings": dict(self.settings),
        }


class SongSkipped(Exception):
    """A song that parsed but must not be trained on; the message is the reason."""


def _format(name: str) -> str:
    return Path(name.split("#")[0]).suffix.lower()


def encode_song(notes: list[Note], key: str | None, steps_per_beat: int, transpose: str,
                metre: Metre | MetreError | None = None):
    """(tokens, key, first step, bars, time signatures) of one song; SongSkipped if it is too
    short, off the grid, or its bar lines cannot be placed (``metre`` a MetreError, or bars off the grid).

    ``transpose="c"`` moves the song by -6..+5 semitones so its key becomes C major or
    A minor; the key comes from the file or, failing that, from analysing the notes.
    """
    if len(notes) < MIN_NOTES:
        raise SongSkipped(f"too short: {len(notes)} notes (need {MIN_NOTES})")
    misses = sum(
        abs(n.start * steps_per_beat - round(n.start * steps_per_beat)) > OFF_GRID_TOLERANCE
        for n in notes
    )
    if misses > OFF_GRID_SHARE * len(notes):
        raise SongSkipped(
            f"tuplets/off-grid onsets: {misses} of {len(notes)} onsets are more than "
            f"{OFF_GRID_TOLERANCE} step off the 1/{steps_per_beat}-beat grid"
        )
    if isinstance(metre, MetreError):
        raise SongSkipped(f"bar lines: {metre}")
    try:
        bars, signatures = metre.on_grid(steps_per_beat) if metre is not None else ([], [])
    except MetreError as e:
        raise SongSkipped(f"bar lines: {e}") from None
    first = round(min(n.start for n in notes) * steps_per_beat)
    key = key or readers.analyse_key(notes)
    if transpose == "c" and key is not None:
        tonic, mode = readers.key_tonic(key)
        shift = ((9 if mode == "minor" else 0) - tonic) % 12
        shift = shift - 12 if shift > 5 else shift
        notes = [Note(n.start, n.duration, n.pitch + shift) for n in notes]
        if min(n.pitch for n in notes) < 0 or max(n.pitch for n in notes) > 127:
            raise SongSkipped(f"out of MIDI range after transposing {shift:+d} semitones to C")
        key = readers.key_name(9 if mode == "minor" else 0, mode)
    return tuple(notes_to_tokens(notes, steps_per_beat)), key, first, bars, signatures


def _work(task: tuple) -> tuple[list, list, int]:
    """Parse + encode one file or ABC tune (runs in a worker process). Returns the cache entry."""
    path, tune, text, steps_per_beat, transpose = task
    read = readers.read_tune(tune, text) if tune is not None else readers.read_file(Path(path))
    songs, skipped = [], list(read.skipped)
    for suffix, notes, key, metre in read.songs:
        try:
            tokens, key, first, bars, signatures = encode_song(notes, key, steps_per_beat, transpose, metre)
        except SongSkipped as e:
            skipped.append((suffix, str(e)))
            continue
        songs.append((suffix, list(tokens), key, first, [[b.start, b.length] for b in bars],
                      [[t.at, t.numerator, t.denominator] for t in signatures]))
    return songs, skipped, read.warnings


def read_notes(path_or_name: str | Path) -> list[tuple[str, list[Note], str | None, Metre | MetreError]]:
    """``(song name, notes, key, metre)`` for every song of one file or music21 name, unencoded.

    Notes are in beats as the file says (no grid, no transposition); the key is the file's
    or, if it names none, the analysed one; the metre is a MetreError where the bar lines could
    not be placed. JamdError if no song could be read.
    """
    out, reasons = [], []
    for path, name in resolve(path_or_name):
        read = readers.read_file(path)
        out += [(name + s, notes, key or readers.analyse_key(notes), metre) for s, notes, key, metre in read.songs]
        reasons += [f"{name}{s}: {reason}" for s, reason in read.skipped]
    if not out:
        raise JamdError(f"{path_or_name}: no song could be read ({'; '.join(reasons[:3])})")
    return out


# --- cache ------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$JAMD_CACHE/corpus`` if set, else ``~/.cache/jamd/corpus``."""
    root = os.environ.get("JAMD_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "jamd") / "corpus"


def _cache_file(cache_dir: Path, data: bytes, suffix: str, settings: dict) -> Path:
    digest = hashlib.sha256(json.dumps([settings, suffix.lower()], sort_keys=True).encode())
    digest.update(hashlib.sha256(data).digest())
    key = digest.hexdigest()
    return cache_dir / key[:2] / f"{key}.json"


def _cache_read(path: Path):
    try:
        songs, skipped, warnings = json.loads(path.read_text())
        return songs, skipped, warnings
    except (OSError, ValueError):  # missing, or half-written by a killed older version: re-parse
        return None


def _cache_write(path: Path, entry) -> None:
    """Atomically (tmp + rename): a concurrent reader sees the old entry or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(entry, tmp)
    os.replace(tmp.name, path)


# --- loading ----------------------------------------------------------------------------


def load_corpus(
    sources: Sequence[str | Path],
    *,
    steps_per_beat: int = 4,
    transpose: str = "none",
    workers: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    limit: int | None = None,
) -> Corpus:
    """Read, encode and cache every song of ``sources`` (files, directories, ``music21:`` names).

    ``steps_per_beat``: grid steps per quarter note. ``transpose``: "none" keeps each key,
    "c" moves every song to C major / A minor. ``workers``: parsing processes (default
    ``os.cpu_count()``; 1 parses in this process). ``cache_dir``: default
    ``default_cache_dir()``. ``limit``: read only the first ``limit`` songs (files or ABC
    tunes, in source order; a skipped one counts too). Callers that use more than one
    worker must guard their script with ``if __name__ == "__main__"`` (spawned processes).
    """
    if transpose not in TRANSPOSE_MODES:
        raise JamdError(f"transpose={transpose!r}: expected one of {TRANSPOSE_MODES}")
    if not 1 <= steps_per_beat <= 24:
        raise JamdError(f"steps_per_beat={steps_per_beat}: expected 1 to 24 grid steps per quarter note")
    if isinstance(sources, (str, Path)):
        sources = [sources]
    settings = {
        "steps_per_beat": steps_per_beat,
        "transpose": transpose,
        "min_notes": MIN_NOTES,
        "off_grid_share": OFF_GRID_SHARE,
        "cache_version": CACHE_VERSION,
    }
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    files = [found for source in sources for found in resolve(source)]

    entries: dict[int, tuple[list, list, int]] = {}
    unreadable: dict[int, str] = {}
    to_store: dict[int, Path] = {}  # files parsed now, complete, to be cached
    tasks: list[tuple[int, tuple]] = []
    budget = limit if limit is not None else float("inf")
    for i, (path, _) in enumerate(files):
        if budget <= 0:
            break
        try:
            data = path.read_bytes()
        except OSError as e:
            unreadable[i] = f"cannot read the file: {e.strerror}"
            budget -= 1
            continue
        cache = _cache_file(cache_dir, data, path.suffix, settings)
        entry = _cache_read(cache)
        if entry is not None:
            entries[i] = entry
            budget -= len(entry[0]) + len(entry[1])
            continue
        if path.suffix.lower() == ".abc":
            tunes = readers.split_abc(readers.decode_text(data))
            if len(tunes) <= budget:
                to_store[i] = cache
            tunes = tunes[: int(min(budget, len(tunes)))]
            tasks += [(i, (str(path), number, text, steps_per_beat, transpose)) for number, text in tunes]
            budget -= len(tunes)
        else:
            to_store[i] = cache
            tasks.append((i, (str(path), None, None, steps_per_beat, transpose)))
            budget -= 1

    for (i, _), (songs, skipped, warnings) in zip(tasks, _run([t for _, t in tasks], workers, progress)):
        had = entries.get(i, ([], [], 0))
        entries[i] = (had[0] + songs, had[1] + skipped, had[2] + warnings)
    for i, cache in to_store.items():
        try:
            _cache_write(cache, entries[i])
        except OSError:  # a read-only or full cache disk only costs speed next time
            pass

    corpus = Corpus(songs=[], skipped=[], warnings=0, settings=settings)
    for i, (_, name) in enumerate(files):
        if i in unreadable:
            corpus.skipped.append((name, unreadable[i]))
        songs, skipped, warnings = entries.get(i, ([], [], 0))
        corpus.songs += [EncodedSong(name + s, tuple(tokens), key, first, tuple(Bar(*b) for b in bars),
                                     tuple(TimeSignature(*t) for t in signatures))
                         for s, tokens, key, first, bars, signatures in songs]
        corpus.skipped += [(name + s, reason) for s, reason in skipped]
        corpus.warnings += warnings
    if limit is not None:
        corpus.songs = corpus.songs[:limit]
    return corpus


def _run(tasks: list[tuple], workers: int | None, progress: bool) -> list[tuple[list, list, int]]:
    """``_work`` over ``tasks`` in order, in a process pool when there are enough of them."""
    from tqdm import tqdm

    workers = workers or os.cpu_count() or 1
    with tqdm(total=len(tasks), desc="parsing corpus", unit="song", file=sys.stderr, disable=not progress or not tasks) as bar:
        if workers <= 1 or len(tasks) < INLINE_TASKS:
            results = []
            for task in tasks:
                results.append(_work(task))
                bar.update()
            return results
        # spawn, not fork: the trainer may already have TensorFlow's threads running, and
        # forking a threaded process can deadlock the child.
        chunk = max(1, min(32, len(tasks) // (workers * 8)))
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = []
            for result in pool.map(_work, tasks, chunksize=chunk):
                results.append(result)
                bar.update()
            return results
