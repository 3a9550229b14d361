"""Songs of each model kind -> the examples ``training/train.py`` fits, split and ready to transpose.

- melody: ``EncodedSong``s (``training/corpus.py``); input = the tokens but the last, target =
  the token after each;
- chords: ``ChordSong``s (``training/chord_data.py``); input = the melody tokens, target = the
  chord of the next beat after each (the alignment is explained there).

Both split by song with near-duplicates kept together (``train.split_songs``), build the input
vocabulary from the training songs in every augmentation key, and carry each token's bar position.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jamd.daemon import chords as chordlib
from jamd.daemon import poly_encoding as poly
from jamd.daemon.encoding import Vocabulary
from jamd.daemon.poly_encoding import PolyVocabulary
from jamd.training.settings import TrainSettings
from jamd.training.train import Example, Task, split_songs


def _vocabulary(songs: Sequence, settings: TrainSettings) -> Vocabulary:
    shifts = settings.shifts if settings.augment else (0,)
    return Vocabulary.build((s.tokens for s in songs), transpositions=shifts, min_count=settings.min_count)


def _token_tables(vocab: Vocabulary, shifts: Sequence[int]) -> dict[int, np.ndarray]:
    return {s: np.asarray(vocab.transposition_table(s), np.int64) for s in shifts if s != 0}


def chord_tables(chords: Sequence[str], shifts: Sequence[int]) -> dict[int, np.ndarray]:
    """For each shift, chord id -> id of that chord transposed (the vocabulary is closed under it)."""
    ids = {c: i for i, c in enumerate(chords)}
    return {s: np.asarray([ids[chordlib.transpose(c, s)] for c in chords], np.int64) for s in shifts}


def _next_token(vocab, song) -> Example:
    """Input = the song's tokens but the last, each with its bar position; target = the token after each."""
    ids = np.asarray(vocab.encode(song.tokens), np.int32)
    return Example(song.name, ids[:-1], song.positions()[:-1], ids[1:])


def melody_task(songs: Sequence, settings: TrainSettings) -> Task:
    """Next-token prediction on ``songs`` (``EncodedSong``, with bars)."""
    train, val = split_songs(songs, settings.val_fraction, settings.seed)
    vocab = _vocabulary(train, settings)

    def example(song) -> Example:
        return _next_token(vocab, song)

    tables = _token_tables(vocab, settings.shifts if settings.augment else ())
    return Task("melody", vocab, vocab.tokens, [example(s) for s in train], [example(s) for s in val],
                list(train), list(val), tables, tables, onsets_are_pitches=True)


def chord_task(songs: Sequence, settings: TrainSettings) -> Task:
    """The chord of the next beat from the melody so far, on ``songs`` (``ChordSong``)."""
    from jamd.training.chord_data import targets

    train, val = split_songs(songs, settings.val_fraction, settings.seed)
    vocab = _vocabulary(train, settings)
    chords = chordlib.chord_vocabulary()
    ids = {c: i for i, c in enumerate(chords)}

    def example(song) -> Example:
        return Example(song.name, np.asarray(vocab.encode(song.tokens), np.int32), song.positions(),
                       targets(song, ids, settings.steps_per_beat))

    shifts = [s for s in settings.shifts if s != 0] if settings.augment else []
    return Task("chords", vocab, tuple(chords), [example(s) for s in train], [example(s) for s in val],
                list(train), list(val), _token_tables(vocab, shifts), chord_tables(chords, shifts),
                onsets_are_pitches=False)


def poly_tables(vocab: PolyVocabulary, shifts: Sequence[int]) -> dict[int, np.ndarray]:
    """For each shift, token id -> id of the token with its pitch moved (-1 off the piano)."""
    tables = {}
    for s in shifts:
        if s == 0:
            continue
        moved = [poly.transpose([t], s) for t in vocab.tokens]
        tables[s] = np.asarray([vocab.id(m[0]) if m else -1 for m in moved], np.int64)
    return tables


def poly_task(songs: Sequence, settings: TrainSettings) -> Task:
    """Next-token prediction on ``songs`` (``training/poly_data.PolySong``), split by their top line."""
    train, val = split_songs(songs, settings.val_fraction, settings.seed, key=lambda s: s.melody_key())
    vocab = PolyVocabulary.piano()

    def example(song) -> Example:
        return _next_token(vocab, song)

    tables = poly_tables(vocab, settings.shifts if settings.augment else ())
    return Task("poly", vocab, vocab.tokens, [example(s) for s in train], [example(s) for s in val],
                list(train), list(val), tables, tables, onsets_are_pitches=False)


TASKS = {"melody": melody_task, "chords": chord_task, "poly": poly_task}


def load_songs(settings: TrainSettings, data: Sequence[str]) -> tuple[list, dict]:
    """(songs, the sidecar's corpus record) of ``data`` for a model of ``settings.kind``."""
    import sys
    from pathlib import Path

    limit = settings.limit or None
    if settings.kind == "poly":
        from collections import Counter

        from jamd.training.poly_data import load_poly

        songs, skipped, warnings = load_poly(data, settings.steps_per_beat, limit)
        reasons = Counter(reason.split(":")[0] for _, reason in skipped)
        print(f"corpus: {len(songs)} pieces, {sum(len(s.tokens) for s in songs):,} tokens, {len(skipped)} skipped "
              f"{dict(reasons) or ''}", file=sys.stderr)
        return songs, {"sources": [str(d) for d in data], "pieces": len(songs),
                       "tokens": sum(len(s.tokens) for s in songs), "skipped": len(skipped),
                       "skipped_by_reason": dict(reasons), "warnings": warnings,
                       "first_skipped": [f"{n}: {r}" for n, r in skipped[:5]]}
    if settings.kind == "chords":
        from jamd.training.chord_data import load_pairs

        songs, skipped = load_pairs(Path(data[0]), settings.steps_per_beat, limit)
        print(f"corpus: {len(songs)} tunes, {sum(s.beats for s in songs):,} beats, {len(skipped)} skipped",
              file=sys.stderr)
        return songs, {"sources": [str(d) for d in data], "tunes": len(songs), "skipped": len(skipped),
                       "first_skipped": [f"{n}: {r}" for n, r in skipped[:5]]}
    from jamd.training.corpus import load_corpus

    corpus = load_corpus(data, steps_per_beat=settings.steps_per_beat, transpose=settings.transpose, limit=limit)
    report = corpus.report()
    print(f"corpus: {report['songs']} songs, {report['tokens']:,} tokens, {report['skipped']} skipped "
          f"{report['skipped_by_reason'] or ''}, formats {report['by_format']}", file=sys.stderr)
    return corpus.songs, {"sources": [str(d) for d in data], "report": report,
                          "settings": {"steps_per_beat": settings.steps_per_beat, "transpose": settings.transpose}}
