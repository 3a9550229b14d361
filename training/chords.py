"""``jamd-train fit-chords``: train the chord accompanist on Nottingham and ship it as ONNX + sidecar.

The network is ``training/model.py``'s, with melody tokens in and chord symbols out
(``ModelConfig.outputs``); it steps once per grid step like the melody models, so the
daemon runs it through the same ``StepModel``. At each step it predicts the chord of the
next beat (``training/chord_data.py`` has the alignment and the latency reasoning).

Its own previous chords are not fed back: the daemon's step model has one token input, and
with the likeliest-chord decoding the daemon uses, those chords are a function of the melody
already read, which the LSTM state carries. Consistency from beat to beat comes from the
hysteresis of ``daemon.chords.choose`` instead.

Augmentation moves melody and chords together by a random shift per tune and epoch, so the
model hears every key; Nottingham is mostly in G and D.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from daemon import chords as chordlib
from daemon.encoding import REST_ID, Vocabulary
from daemon.errors import JamdError
from training.chord_data import ChordSong, load_pairs, targets
from training.chord_eval import KEEP, evaluate, table


@dataclass(frozen=True)
class ChordSettings:
    """Everything ``fit_chords`` takes besides the data. Steps are grid steps."""

    epochs: int = 20
    units: int = 128  # 256 (1.3 MB, 3x the training time) scored the same held-out accuracy, 0.449
    layers: int = 1
    embedding: int = 32
    window: int = 64  # training window, grid steps (16 beats)
    batch: int = 32  # windows per batch (128-step windows in batches of 64: 60 updates an epoch, too slow)
    lr: float = 3e-3  # Adam learning rate
    patience: int = 3  # epochs without a better validation loss before stopping
    val_fraction: float = 0.1  # share of tunes held out
    min_count: int = 2  # melody pitch sets seen fewer times are mapped to the nearest known token
    shifts: tuple[int, ...] = tuple(range(-5, 7))  # augmentation transpositions, semitones
    steps_per_beat: int = 4
    seed: int = 1

    def to_dict(self) -> dict:
        return {**asdict(self), "shifts": list(self.shifts)}


def chord_tables(chords: Sequence[str], shifts: Sequence[int]) -> dict[int, np.ndarray]:
    """For each shift, chord id -> id of that chord transposed (the vocabulary is closed under it)."""
    ids = {c: i for i, c in enumerate(chords)}
    return {s: np.asarray([ids[chordlib.transpose(c, s)] for c in chords], np.int32) for s in shifts}


def windows(pairs: list[tuple[np.ndarray, np.ndarray]], window: int, rng: np.random.Generator | None):
    """Inputs, targets and weights, each [n, window]; padding has weight 0; cuts move with ``rng``."""
    xs, ys, ws = [], [], []
    for x, y in pairs:
        first = int(rng.integers(window)) if rng is not None and len(x) > window else 0
        cuts = ([0] if first else []) + list(range(first, len(x), window))
        for a, b in zip(cuts, cuts[1:] + [len(x)]):
            pad = window - (b - a)
            xs.append(np.pad(x[a:b], (0, pad), constant_values=REST_ID))
            ys.append(np.pad(y[a:b], (0, pad)))
            ws.append(np.pad(np.ones(b - a, np.float32), (0, pad)))
    return np.stack(xs).astype(np.int32), np.stack(ys).astype(np.int32), np.stack(ws)


def fit_chords(songs: Sequence[ChordSong], settings: ChordSettings, workdir: Path, verbose: int = 1):
    """Train; return (sequence model, ModelConfig, melody Vocabulary, train songs, held-out songs, history)."""
    from training.model import ModelConfig
    from training.train import Augmenter, compiled_model, fit_epochs, seed_everything, split_songs

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seed_everything(settings.seed)
    rng = np.random.default_rng(settings.seed)
    train, held = split_songs(songs, settings.val_fraction, settings.seed)
    vocab = Vocabulary.build((s.tokens for s in train), transpositions=settings.shifts, min_count=settings.min_count)
    chords = chordlib.chord_vocabulary()
    ids = {c: i for i, c in enumerate(chords)}
    spb = settings.steps_per_beat
    train_x = [np.asarray(vocab.encode(s.tokens), np.int32) for s in train]
    train_y = [targets(s, ids, spb) for s in train]
    augment = Augmenter(vocab, train_x, settings.shifts)
    moves = chord_tables(chords, settings.shifts)
    val_data = windows([(np.asarray(vocab.encode(s.tokens), np.int32), targets(s, ids, spb)) for s in held],
                       settings.window, None)

    config = ModelConfig(len(vocab), settings.embedding, settings.units, settings.layers, outputs=len(chords))
    model = compiled_model(config, settings.lr)
    print(f"chord model: LSTM-{config.units}, melody vocabulary {len(vocab)}, {len(chords)} chords, "
          f"{model.count_params():,} parameters; {len(train)} training / {len(held)} held-out tunes", file=sys.stderr)

    def next_epoch():
        pairs = []
        for x, y, allowed in zip(train_x, train_y, augment.allowed):
            shift = allowed[rng.integers(len(allowed))]
            pairs.append((x, y) if shift == 0 else (augment.tables[shift][x], moves[shift][y]))
        return windows(pairs, settings.window, rng)

    history = fit_epochs(model, next_epoch, val_data, settings, workdir / "best.weights.h5", rng, verbose)
    return model, config, vocab, train, held, history


def keras_predict(model, vocab: Vocabulary):
    """``predict(song)`` for ``chord_eval.evaluate``: chord probabilities after each token, from Keras."""
    def predict(song: ChordSong) -> np.ndarray:
        logits = model(np.asarray([vocab.encode(song.tokens)], np.int32), training=False).numpy()[0]
        logits = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        return np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return predict


def add_parser(sub) -> None:
    from training.cli import add_destination_flags

    d = ChordSettings()
    p = sub.add_parser("fit-chords", help="train the chord accompanist on Nottingham melody + chord tracks",
                       description="Read nottingham/MIDI (melody/ and chords/), train an LSTM that predicts "
                       "the chord of the next beat from the melody so far, evaluate it against a key-aware "
                       "baseline on held-out tunes, export ONNX + sidecar (kind chords).")
    p.add_argument("data", nargs="?", metavar="DIR",
                   help="the Nottingham MIDI folder, e.g. ../shared/data/nottingham/MIDI")
    add_destination_flags(p, "checkpoints")
    p.add_argument("--limit", type=int, help="read only the first N tunes (quick trials)")
    for field_name in ("epochs", "units", "embedding", "window", "batch", "patience", "seed"):
        p.add_argument("--" + field_name, type=int, help=f"default {getattr(d, field_name)}")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--val-fraction", type=float, help=f"share of tunes held out (default {d.val_fraction})")
    p.set_defaults(func=fit_chords_command)
    p = sub.add_parser("evaluate-chords", help="re-score an exported chord model on its held-out tunes",
                       description="Run MODEL through onnxruntime, step by step as the daemon does, on the "
                       "tunes its sidecar lists as held out; the baseline learns from all the others.")
    p.add_argument("model", nargs="?", help="model name (models/NAME.onnx) or .onnx path")
    p.add_argument("data", nargs="?", metavar="DIR", help="the Nottingham MIDI folder it was trained on")
    p.set_defaults(func=evaluate_chords_command)


def evaluate_chords_command(args) -> int:
    from daemon.model import load_model
    from training.chord_eval import step_predict

    if not args.model or not args.data:
        raise JamdError("evaluate-chords needs MODEL and DIR, e.g. nottingham-chords ../shared/data/nottingham/MIDI")
    model = load_model(args.model)
    if model.sidecar.kind != "chords":
        raise JamdError(f"model {model.name} is a {model.sidecar.kind} model; evaluate-chords scores chords models")
    held = set(model.sidecar.training.get("validation_songs", []))
    songs, _ = load_pairs(Path(args.data), model.steps_per_beat)
    test = [s for s in songs if s.name in held]
    if not test:
        raise JamdError(f"{args.data}: none of the model's {len(held)} held-out tunes found there")
    results = evaluate(step_predict(model), model.sidecar.outputs, [s for s in songs if s.name not in held], test,
                       model.steps_per_beat)
    print(f"{model.name} on {len(test)} held-out tunes:")
    print(table(results))
    return 0


def fit_chords_command(args) -> int:
    from training.cli import _settings, destination, merged

    values = merged(args)
    if not values.get("data"):
        raise JamdError("fit-chords needs DIR: the Nottingham MIDI folder, e.g. ../shared/data/nottingham/MIDI")
    name, output, workdir = destination(values, "fit-chords")
    from training.export import export  # TensorFlow: only once the arguments are known to be usable
    settings = _settings(ChordSettings, values)
    songs, skipped = load_pairs(Path(values["data"]), settings.steps_per_beat, values.get("limit"))
    print(f"corpus: {len(songs)} tunes, {sum(s.beats for s in songs):,} beats, {len(skipped)} skipped", file=sys.stderr)
    model, config, vocab, train, held, history = fit_chords(songs, settings, workdir, verbose=2)
    chords = chordlib.chord_vocabulary()
    results = evaluate(keras_predict(model, vocab), chords, train, held, settings.steps_per_beat)
    print(table(results))
    best = min(history, key=lambda r: r["val_loss"])
    metrics = {"held_out": results, "val_loss_nats": best["val_loss"], "best_epoch": best["epoch"],
               "epochs": len(history), "train_seconds": round(sum(r["seconds"] for r in history), 1)}
    check = max(held[:20], key=lambda s: len(s.tokens))
    export(model, config, vocab, check.tokens, output, name=name, steps_per_beat=settings.steps_per_beat,
           kind="chords",
           corpus={"sources": [str(values["data"])], "tunes": len(songs), "skipped": len(skipped)},
           training={**settings.to_dict(), "train_songs": len(train),
                     "validation_songs": [s.name for s in held], "history": history},
           metrics=metrics,
           extra={"chords": list(chords), "chord_rate_beats": 1, "keep": KEEP,
                  "voicing": {"bass_low": chordlib.BASS_LOW, "upper_low": chordlib.UPPER_LOW}})
    m = results["model"]
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB) and its sidecar: held-out chord accuracy "
          f"{m['accuracy']:.3f} (baseline {results['baseline_before_beat']['accuracy']:.3f} causal, "
          f"{results['baseline_on_beat']['accuracy']:.3f} on the beat)")
    return 0
