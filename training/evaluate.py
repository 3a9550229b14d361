"""Held-out evaluation of an exported model, with a PPM n-gram baseline scored in the same run.

Figures (both models, the same arithmetic, every step after ``start`` predicted):

- ``bits_per_step``: cross-entropy -log2 P(token) averaged over grid steps;
- ``bits_per_note``: -log2 P(pitch | a note starts here) averaged over note onsets, the
  distribution renormalised over pitch tokens (pitch-set tokens for chord models). That is
  IDyOM's pitch measure on Essen: every note counted, including each song's first;
- ``onset_accuracy``: the likeliest pitch token is the one played, on onset steps;
- ``accuracy``: the likeliest token (of all) is the one played, on every step.

A pitch set the model's vocabulary lacks is mapped to ``Vocabulary.nearest_id`` (the step
stays, so the LSTM's sense of time is not shifted) and counted in ``oov_steps``: the model
is scored on the mapped token, which flatters it slightly when that count is not small.

The n-gram (``jamd.daemon.ppm.PPM``, orders 0..8 blended) is trained on exactly the LSTM's
training songs: the sidecar's ``corpus.sources`` minus ``training.validation_songs``. When
the sources cannot be read it falls back to 10-fold cross-validation by song on the
evaluated data (each song scored by an n-gram that never saw it), and says so.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from jamd.daemon.blend import ShortTerm
from jamd.daemon.config import Config
from jamd.daemon.encoding import SPECIAL_TOKENS
from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import require_melody
from jamd.daemon.model import StepModel, load_model
from jamd.daemon.ppm import PPM, MAX_ORDER
from jamd.daemon.sidecar import sidecar_path

FIRST_PITCH_ID = len(SPECIAL_TOKENS)  # ids below are start/rest/hold, the rest are pitch sets
FOLDS = 10


class Tally:
    """Running sums of the four figures for one model over many songs."""

    def __init__(self) -> None:
        self.bits = self.note_bits = 0.0
        self.steps = self.notes = self.hits = self.note_hits = 0

    def add(self, probs: np.ndarray, token: int) -> None:
        """Score one step: ``probs`` is the model's distribution before it sees ``token``."""
        self.bits -= math.log2(max(float(probs[token]), 1e-300))
        self.steps += 1
        self.hits += int(np.argmax(probs) == token)
        if token >= FIRST_PITCH_ID:
            pitches = probs[FIRST_PITCH_ID:]
            self.note_bits -= math.log2(max(float(probs[token] / pitches.sum()), 1e-300))
            self.notes += 1
            self.note_hits += int(np.argmax(pitches) + FIRST_PITCH_ID == token)

    def figures(self) -> dict:
        def ratio(a, b):
            return a / b if b else float("nan")

        return {
            "bits_per_step": ratio(self.bits, self.steps),
            "bits_per_note": ratio(self.note_bits, self.notes),
            "onset_accuracy": ratio(self.note_hits, self.notes),
            "accuracy": ratio(self.hits, self.steps),
            "steps": self.steps,
            "notes": self.notes,
        }


def lstm_predictions(model: StepModel, song: tuple[Sequence[int], np.ndarray]):
    """The model's distribution before each token of a song's ids after the first (``start``);
    ``song`` is (ids, bar positions fed with each)."""
    ids, positions = song
    model.reset()
    steps = model.run(ids, positions)
    probs = next(steps)
    for token in ids[1:]:
        yield probs
        probs = next(steps, None)


def stm_predictions(model: StepModel, song: tuple[Sequence[int], np.ndarray], strength: float):
    """The LSTM blended as the daemon blends it with a short-term model of this song's own past only."""
    ids, positions = song
    short = ShortTerm.for_model(model)
    model.reset()
    steps = model.run(ids, positions)
    lstm = next(steps)
    short.learn(ids[0])
    for token in ids[1:]:
        yield short.blend(lstm, strength)  # overwritten by the next blend: scored before it
        lstm = next(steps, None)
        short.learn(token)


def ngram_predictions(ngram: PPM, song: tuple[Sequence[int], np.ndarray]):
    """The same for the n-gram, which does not learn from the songs it is scored on (nor hears bars)."""
    ids, _ = song
    out = np.empty(ngram.vocab_size)
    ngram.reset()
    ngram.update(ids[0], learn=False)
    for token in ids[1:]:
        yield ngram.distribution(out)
        ngram.update(token, learn=False)


def score(predictions, songs: Sequence[tuple[Sequence[int], np.ndarray]], tally: Tally) -> None:
    """Score every token after ``start`` of each song ((ids, positions)) against ``predictions(song)``."""
    for song in songs:
        for token, probs in zip(song[0][1:], predictions(song)):
            tally.add(probs, token)


def _bar(items, desc: str, progress: bool):
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="song", leave=False)


def song_key(name: str) -> str:
    """A song's name without the directories a source was given with (``../data/`` vs ``/abs/data/``).

    Names are ``<path as given>[#tune]``; the last three path parts identify a song in
    every corpus jamd reads, whatever directory training was run from.
    """
    path, _, tune = name.partition("#")
    tail = "/".join(Path(path).parts[-3:])
    return f"{tail}#{tune}" if tune else tail


REPO = Path(__file__).resolve().parents[1]  # a checkout: where `make models` ran jamd-train fit


def source_paths(model: StepModel) -> list[Path]:
    """The sidecar's ``corpus.sources`` as paths that exist, whatever folder jamd-train runs in.

    Training wrote them as given, relative to the folder it ran in: for the shipped models the
    repository root. A relative one is looked for there, beside the model's folder and in the
    current folder; JamdError naming each place tried when it is in none of them.
    """
    found = []
    for source in model.sidecar.corpus.get("sources") or []:
        path = Path(str(source))
        if path.is_absolute() or str(source).startswith("music21:"):
            found.append(path)
            continue
        tried = list(dict.fromkeys(base / path for base in (Path.cwd(), model.path.resolve().parents[1], REPO)))
        hits = [t for t in tried if t.exists()]
        if not hits:
            raise JamdError(f"{model.path}: the corpus it was trained on, {source!r}, is in none of "
                            f"{', '.join(str(t) for t in tried)}; give the data instead: "
                            f"`jamd-train evaluate {model.name} PATH/TO/{path.name}`")
        found.append(hits[0])
    return found


def model_split(model: StepModel, progress: bool = False):
    """``(training songs, validation songs)`` rebuilt from the sidecar, or None if it cannot be.

    None when the sidecar names no sources or validation songs, the sources are unreadable,
    or none of the validation songs is found in them.
    """
    from jamd.training.corpus import load_corpus

    validation = model.sidecar.training.get("validation_songs")
    try:
        sources = source_paths(model)
    except JamdError:
        return None
    if not sources or validation is None:
        return None
    try:
        corpus = load_corpus([str(s) for s in sources], **_corpus_options(model), progress=progress)
    except JamdError:
        return None
    held_out = {song_key(name) for name in validation}
    train = [s for s in corpus.songs if song_key(s.name) not in held_out]
    valid = [s for s in corpus.songs if song_key(s.name) in held_out]
    return (train, valid) if valid else None  # no name matched: not the corpus the model was trained on


def _corpus_options(model: StepModel) -> dict:
    settings = model.sidecar.corpus.get("settings", {})
    return {"steps_per_beat": model.steps_per_beat, "transpose": settings.get("transpose", "none")}


def evaluate_songs(model: StepModel, songs, train_songs=None, skipped: int = 0, progress: bool = False,
                   stm: float | None = None) -> dict:
    """Figures for ``model`` and the n-gram on ``songs`` (``EncodedSong``s).

    ``train_songs``: the n-gram's training songs; None = 10-fold cross-validation on ``songs``.
    ``stm``: also score the LSTM blended with a short-term model at this strength (``jamd.daemon.blend``),
    under the key ``"lstm+stm"``.
    Returns ``{"lstm": {...}, "ngram": {...}}`` with the four figures, ``songs``, ``skipped``,
    ``steps``, ``notes``, ``oov_steps`` each, and how the n-gram was trained.
    """
    if not songs:
        raise JamdError("no song to evaluate: every file was skipped or the data is empty "
                        "(run `jamd-train evaluate` on .krn/.abc/.mid files or directories of them)")
    vocab = model.vocab
    ids = [(vocab.encode(s.tokens), s.positions()) for s in songs]
    oov = sum(t not in vocab for s in songs for t in s.tokens)
    lstm, ngram = Tally(), Tally()
    score(lambda song: lstm_predictions(model, song), _bar(ids, "LSTM", progress), lstm)
    blended = Tally()
    if stm is not None:
        score(lambda song: stm_predictions(model, song, stm), _bar(ids, "LSTM+STM", progress), blended)
    if train_songs is not None:
        baseline = PPM(len(vocab), MAX_ORDER).fit((vocab.encode(s.tokens) for s in train_songs), progress)
        score(lambda song: ngram_predictions(baseline, song), ids, ngram)
        trained_on = f"the model's {len(train_songs)} training songs"
    else:
        folds = [ids[i::FOLDS] for i in range(FOLDS)]
        for i, fold in enumerate(_bar(folds, "n-gram folds", progress)):
            rest = [song[0] for j, other in enumerate(folds) if j != i for song in other]
            fitted = PPM(len(vocab), MAX_ORDER).fit(rest)
            score(lambda song: ngram_predictions(fitted, song), fold, ngram)
        trained_on = f"{FOLDS}-fold cross-validation on the evaluated songs (the model's training songs are not available)"
    common = {"songs": len(songs), "skipped": skipped, "oov_steps": oov}
    overlap = len({s.tokens for s in songs} & {s.tokens for s in train_songs or ()})
    stm_report = {"lstm+stm": {**blended.figures(), **common, "strength": stm}} if stm is not None else {}
    return {
        "lstm": {**lstm.figures(), **common, "model": str(model.path), "duplicates_in_training": overlap},
        **stm_report,
        "ngram": {**ngram.figures(), **common, "orders": f"0..{MAX_ORDER}", "trained_on": trained_on},
    }


def evaluate(model_ref: str | Path, data: Sequence[str | Path] = (), progress: bool = True,
             stm: float | None = None) -> dict:
    """Evaluate a model (name or .onnx path) on ``data`` files/directories, or, with no data,
    on its own validation songs. The n-gram is trained on the model's training songs."""
    from jamd.training.corpus import load_corpus

    model = load_model(model_ref)
    require_melody(model.sidecar.model_kind, model.name, "evaluate")
    if not data:
        source_paths(model)  # a corpus that cannot be found is named, with where it was looked for
    split = model_split(model, progress)
    if data:
        corpus = load_corpus(list(data), **_corpus_options(model), progress=progress)
        songs, skipped = corpus.songs, len(corpus.skipped)
    elif split is not None:
        songs, skipped = split[1], 0
    else:
        raise JamdError(f"{model.path}: give DATA to evaluate on; the sidecar's sources or validation "
                        "songs are missing or unreadable, so its own validation set cannot be rebuilt")
    return evaluate_songs(model, songs, split[0] if split else None, skipped, progress, stm)


def write_metrics(model_ref: str | Path, report: dict) -> Path:
    """Store the report's figures in the model's sidecar under ``metrics.validation``; return its path."""
    from jamd.daemon.model import resolve_model
    from jamd.daemon.sidecar import load_sidecar

    path = sidecar_path(resolve_model(model_ref))
    sidecar = load_sidecar(path)
    # The sidecar is the model's: the path it was evaluated at (this machine's) stays out of it.
    figures = {k: _rounded({f: v for f, v in fig.items() if f != "model"}) for k, fig in report.items()}
    metrics = {**sidecar.metrics, "validation": figures}
    dataclasses.replace(sidecar, metrics=metrics).save(path)
    return path


def _rounded(figures: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


def format_table(report: dict) -> str:
    """The human summary: one row per model, one column per figure."""
    header = ("model", "bits/step", "bits/note", "onset acc", "accuracy")
    rows = [header]
    for name in (n for n in ("lstm", "lstm+stm", "ngram") if n in report):
        f = report[name]
        rows.append((name, f"{f['bits_per_step']:.3f}", f"{f['bits_per_note']:.3f}",
                     f"{f['onset_accuracy']:.1%}", f"{f['accuracy']:.1%}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lstm, ngram = report["lstm"], report["ngram"]
    lines.append(f"{lstm['songs']} songs ({lstm['skipped']} skipped), {lstm['steps']} steps, {lstm['notes']} notes, "
                 f"{lstm['oov_steps']} steps outside the vocabulary (mapped to the nearest token)")
    lines.append(f"n-gram: PPM-C orders {ngram['orders']}, trained on {ngram['trained_on']}")
    if lstm["duplicates_in_training"]:
        lines.append(f"warning: {lstm['duplicates_in_training']} evaluated songs also occur in the training songs")
    return "\n".join(lines)


def command(args) -> int:
    """``jamd-train evaluate MODEL [DATA...] [--json] [--write-sidecar]``."""
    if args.write_sidecar and args.data:
        raise JamdError("--write-sidecar stores the figures of the model's own validation songs: "
                        "run it without DATA")
    report = evaluate(args.model, args.data, stm=args.stm_strength if args.stm else None)  # progress bars go to stderr, JSON to stdout
    print(json.dumps(report, indent=1) if args.json else format_table(report))
    if args.write_sidecar:
        path = write_metrics(args.model, report)
        if not args.json:
            print(f"wrote metrics.validation to {path}")
    return 0


def add_parser(subparsers) -> None:
    """The ``evaluate`` subcommand, for ``training/cli.py``."""
    p = subparsers.add_parser("evaluate", help="held-out figures for a model and an n-gram baseline")
    p.add_argument("model", help="model name (models/NAME.onnx) or .onnx path with its .json beside it")
    p.add_argument("data", nargs="*", help="files or directories to evaluate on (default: the model's "
                   "own validation songs, rebuilt from its sidecar)")
    p.add_argument("--stm", action="store_true", help="also score the LSTM blended with a short-term model "
                   "of each song's own past, as jamd plays it (key lstm+stm)")
    p.add_argument("--stm-strength", type=float, default=Config().stm_strength, metavar="S",
                   help="strength of that blend (default: the config's stm_strength, %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys lstm, ngram; lstm+stm with --stm)")
    p.add_argument("--write-sidecar", action="store_true",
                   help="store the figures in the model's sidecar under metrics.validation")
    p.set_defaults(func=command)
