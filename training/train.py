"""Fit the sequence model on an encoded corpus: split by song, augment by transposition, stop early.

Settings are plain values with defaults in ``TrainSettings`` (the CLI and ``--config`` TOML
fill the same fields). Everything random (split, augmentation, window cuts, batch order,
weight init) follows ``seed``.
"""

from __future__ import annotations

import csv
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from daemon.encoding import REST_ID, SPECIAL_TOKENS, Vocabulary
from daemon.errors import JamdError
from training.corpus import EncodedSong
from training.model import ModelConfig, sequence_model
from training.tf import keras

FIRST_PITCH_ID = len(SPECIAL_TOKENS)  # ids below are start, rest, hold


@dataclass(frozen=True)
class TrainSettings:
    """Everything ``fit`` takes besides the data. Steps are grid steps (tokens)."""

    epochs: int = 40
    units: int = 256
    layers: int = 1
    embedding: int = 64
    window: int = 128  # training window, grid steps
    batch: int = 32  # windows per batch: small, since an LSTM needs many updates more than big ones
    lr: float = 3e-3  # Adam learning rate
    patience: int = 3  # epochs without a better validation loss before stopping
    val_fraction: float = 0.1  # share of songs held out
    min_count: int = 2  # a chord seen fewer times (over all transpositions) is left out
    shifts: tuple[int, ...] = tuple(range(-5, 7))  # augmentation transpositions, semitones
    augment: bool = True  # False when the corpus is transposed to C already
    seed: int = 1

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shifts"] = list(self.shifts)
        return data


@dataclass
class TrainResult:
    model: keras.Model  # the sequence model with the best weights
    config: ModelConfig
    vocab: Vocabulary
    settings: TrainSettings
    train_songs: list[EncodedSong]
    val_songs: list[EncodedSong]
    metrics: dict  # held-out metrics of the best weights, see ``evaluate_windows``
    history: list[dict] = field(default_factory=list)  # one row per epoch, as in the CSV


def split_songs(songs: Sequence[EncodedSong], val_fraction: float, seed: int):
    """(train, validation) lists, split by whole songs; both keep the corpus order.

    At least one song goes each way when there are two or more.
    """
    if len(songs) < 2:
        raise JamdError(f"{len(songs)} usable song(s): training needs at least 2 (one is held out)")
    if not 0.0 < val_fraction < 1.0:
        raise JamdError(f"val_fraction={val_fraction}: expected a share between 0 and 1, e.g. 0.1")
    n_val = min(len(songs) - 1, max(1, round(len(songs) * val_fraction)))
    held = set(np.random.default_rng(seed).permutation(len(songs))[:n_val].tolist())
    train = [s for i, s in enumerate(songs) if i not in held]
    val = [s for i, s in enumerate(songs) if i in held]
    return train, val


def build_vocabulary(train_songs: Sequence[EncodedSong], settings: TrainSettings) -> Vocabulary:
    shifts = settings.shifts if settings.augment else (0,)
    return Vocabulary.build((s.tokens for s in train_songs), transpositions=shifts, min_count=settings.min_count)


class Augmenter:
    """Each song moved by a random shift whose every token is in the vocabulary (0 always qualifies)."""

    def __init__(self, vocab: Vocabulary, ids: list[np.ndarray], shifts: Sequence[int]):
        self.tables = {s: np.asarray(vocab.transposition_table(s), dtype=np.int64) for s in shifts if s != 0}
        self.allowed = [[0] + [s for s, t in self.tables.items() if (t[song] >= 0).all()] for song in ids]

    def __call__(self, ids: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        out = []
        for song, allowed in zip(ids, self.allowed):
            shift = allowed[rng.integers(len(allowed))]
            out.append(song if shift == 0 else self.tables[shift][song].astype(np.int32))
        return out


def windows(songs: list[np.ndarray], window: int, rng: np.random.Generator | None):
    """Inputs, next-token targets and weights, each [n, window]; padding has weight 0.

    With ``rng`` each song's cut points move by a random offset, so the model sees every
    step both early and late in a window across epochs.
    """
    xs, ys, ws = [], [], []
    for song in songs:
        x, y = song[:-1], song[1:]
        first = int(rng.integers(window)) if rng is not None and len(x) > window else 0
        cuts = ([0] if first else []) + list(range(first, len(x), window))
        for a, b in zip(cuts, cuts[1:] + [len(x)]):
            if b <= a:
                continue
            pad = window - (b - a)
            xs.append(np.pad(x[a:b], (0, pad), constant_values=REST_ID))
            ys.append(np.pad(y[a:b], (0, pad), constant_values=REST_ID))
            ws.append(np.pad(np.ones(b - a, np.float32), (0, pad)))
    return np.stack(xs).astype(np.int32), np.stack(ys).astype(np.int32), np.stack(ws)


def evaluate_windows(model: keras.Model, x: np.ndarray, y: np.ndarray, w: np.ndarray, batch: int) -> dict:
    """Held-out metrics over the weighted steps: loss in nats and bits/step, accuracy, onset accuracy.

    Onset accuracy: on steps whose target is a note or chord onset, is the likeliest pitch
    token the one played? (``hold`` and ``rest`` dominate a grid: plain accuracy looks better
    than the music is, and at an onset the likeliest token of all is still mostly ``hold``.)
    The same definition as ``training/evaluate.py``.
    """
    logits = model.predict(x, batch_size=batch, verbose=0).astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    mask = w > 0
    correct = (logits.argmax(axis=-1) == y) & mask
    onset = mask & (y >= FIRST_PITCH_ID)
    pitch_correct = logits[..., FIRST_PITCH_ID:].argmax(axis=-1) + FIRST_PITCH_ID == y
    loss = float(nll[mask].mean())
    return {
        "loss_nats": round(loss, 5),
        "bits_per_step": round(loss / math.log(2), 5),
        "accuracy": round(float(correct.sum() / mask.sum()), 5),
        "onset_accuracy": round(float(pitch_correct[onset].sum() / max(1, onset.sum())), 5),
        "steps": int(mask.sum()),
        "onset_steps": int(onset.sum()),
    }


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def fit(songs: Sequence[EncodedSong], settings: TrainSettings, workdir: Path, *, verbose: int = 1) -> TrainResult:
    """Train on ``songs``; write ``train.csv``, ``loss.png``, ``accuracy.png``, ``onset_accuracy.png``, ``best.weights.h5`` in ``workdir``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seed_everything(settings.seed)
    rng = np.random.default_rng(settings.seed)
    train_songs, val_songs = split_songs(songs, settings.val_fraction, settings.seed)
    vocab = build_vocabulary(train_songs, settings)
    train_ids = [np.asarray(vocab.encode(s.tokens), np.int32) for s in train_songs]
    val_ids = [np.asarray(vocab.encode(s.tokens), np.int32) for s in val_songs]
    augment = Augmenter(vocab, train_ids, settings.shifts if settings.augment else (0,))
    val_data = windows(val_ids, settings.window, None)

    config = ModelConfig(len(vocab), settings.embedding, settings.units, settings.layers)
    model = compiled_model(config, settings.lr)
    print(f"model: {config.layers}x LSTM-{config.units}, embedding {config.embedding}, vocabulary {len(vocab)}, "
          f"{model.count_params():,} parameters; {len(train_songs)} training / {len(val_songs)} validation songs",
          file=sys.stderr)
    # Onset accuracy per epoch, for the curves: plain accuracy is mostly `hold`. The training side
    # is scored on as many untransposed windows as validation has, so both cost the same.
    train_sample = windows(train_ids, settings.window, None)
    train_sample = tuple(a[: max(1, len(val_data[0]))] for a in train_sample)

    def on_epoch(history: list[dict]) -> None:
        history[-1]["onset_accuracy"] = evaluate_windows(model, *train_sample, settings.batch)["onset_accuracy"]
        history[-1]["val_onset_accuracy"] = evaluate_windows(model, *val_data, settings.batch)["onset_accuracy"]
        _write_log(workdir, history)

    history = fit_epochs(model, lambda: windows(augment(train_ids, rng), settings.window, rng), val_data,
                         settings, workdir / "best.weights.h5", rng, verbose, on_epoch=on_epoch)
    metrics = {f"val_{k}": v for k, v in evaluate_windows(model, *val_data, settings.batch).items()}
    best_row = min(history, key=lambda r: r["val_loss"])
    metrics.update(
        epochs=len(history),
        best_epoch=best_row["epoch"],
        tokens_per_s=round(float(np.mean([r["tokens_per_s"] for r in history]))),
        train_seconds=round(sum(r["seconds"] for r in history), 1),
    )
    return TrainResult(model, config, vocab, settings, train_songs, val_songs, metrics, history)



def compiled_model(config: ModelConfig, lr: float) -> keras.Model:
    """The sequence model, compiled for next-token training with padding masked out."""
    model = sequence_model(config)
    model.compile(
        optimizer=keras.optimizers.Adam(lr, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        # Weighted metrics skip the padding; the plain loss would average it in.
        weighted_metrics=[
            keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="xent"),
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        ],
    )
    return model


def fit_epochs(model, next_epoch, val_data, settings, best_path: Path, rng: np.random.Generator,
               verbose: int = 1, on_epoch=None) -> list[dict]:
    """Train epoch by epoch on ``next_epoch() -> (x, y, w)`` with early stopping on validation loss.

    Keeps the best weights in ``best_path`` and loads them back at the end; returns one row per epoch.
    ``settings`` needs ``epochs``, ``batch`` and ``patience``.
    """
    history: list[dict] = []
    best, waited = math.inf, 0
    for epoch in range(settings.epochs):
        x, y, w = next_epoch()
        order = rng.permutation(len(x))
        began = time.perf_counter()
        fitted = model.fit(
            x[order], y[order], sample_weight=w[order], batch_size=settings.batch, shuffle=False,
            validation_data=val_data, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose,
        ).history
        seconds = time.perf_counter() - began
        row = {
            "epoch": epoch + 1,
            "loss": round(fitted["xent"][-1], 5),
            "accuracy": round(fitted["accuracy"][-1], 5),
            "val_loss": round(fitted["val_xent"][-1], 5),
            "val_accuracy": round(fitted["val_accuracy"][-1], 5),
            "seconds": round(seconds, 1),
            "tokens_per_s": round(float(w.sum()) / seconds),
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(history)
        print(f"epoch {row['epoch']}: loss {row['loss']:.4f} val_loss {row['val_loss']:.4f} "
              f"val_accuracy {row['val_accuracy']:.4f}, {row['tokens_per_s']:,} training tokens/s", file=sys.stderr)
        if not (math.isfinite(row["loss"]) and math.isfinite(row["val_loss"])):
            raise JamdError(f"training diverged at epoch {row['epoch']} (loss {row['loss']}); lower --lr")
        if row["val_loss"] < best - 1e-4:
            best, waited = row["val_loss"], 0
            model.save_weights(best_path)
        else:
            waited += 1
            if waited >= settings.patience:
                print(f"early stop: no better validation loss for {waited} epochs", file=sys.stderr)
                break
    model.load_weights(best_path)
    return history

def _write_log(workdir: Path, history: list[dict]) -> None:
    """The per-epoch CSV and the two plots, rewritten after every epoch so a long run can be watched."""
    with open(workdir / "train.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    import matplotlib

    matplotlib.use("Agg")  # no display on a training box
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    epochs = [r["epoch"] for r in history]
    for metric, label in (("loss", "cross-entropy (nats/step)"), ("accuracy", "next-step accuracy"),
                          ("onset_accuracy", "onset accuracy (likeliest pitch where a note starts)")):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, [r[metric] for r in history], marker="o", label="train")
        ax.plot(epochs, [r[f"val_{metric}"] for r in history], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(workdir / f"{metric}.png", dpi=100)
        plt.close(fig)
