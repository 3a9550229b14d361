"""Fit any kind of model on examples: split by song (near-duplicates together), augment by
transposition, stop early on the validation loss and keep the best weights.

An ``Example`` is one song as the network sees it: input token ids, the bar position fed with
each (``daemon/metre.py``), and the target after each token (the next token for a melody model,
the chord of the next beat for a chords model). ``training/tasks.py`` turns songs of each kind into
examples; everything here serves every kind. Settings: ``training/settings.py``. Everything random
(split, augmentation, window cuts, batch order, weight init) follows ``seed``.
"""

from __future__ import annotations

import csv
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from jamd.daemon.encoding import REST_ID, SPECIAL_TOKENS, Vocabulary
from jamd.daemon.errors import JamdError
from jamd.training.model import ModelConfig, sequence_model
from jamd.training.settings import TrainSettings
from jamd.training.tf import keras

FIRST_PITCH_ID = len(SPECIAL_TOKENS)  # ids below are start, rest, hold
BITS = 1 / math.log(2)  # nats -> bits


@dataclass(frozen=True)
class Example:
    """One song for the network: ``x`` ids [n], ``positions`` [n, 2], ``y`` target ids [n]."""

    name: str
    x: np.ndarray
    positions: np.ndarray
    y: np.ndarray


@dataclass
class Task:
    """What a kind of model learns: examples split into train/validation, and how they transpose.

    ``x_tables[s]`` / ``y_tables[s]``: for shift ``s`` semitones, input id -> moved id (-1 if the
    moved token is not in the vocabulary), target id -> moved id.
    """

    kind: str
    vocab: Vocabulary
    outputs: tuple[str, ...]  # what the logits score
    train: list[Example]
    val: list[Example]
    train_songs: list  # the songs behind the examples, for the sidecar and the evaluation
    val_songs: list
    x_tables: dict[int, np.ndarray] = field(default_factory=dict)
    y_tables: dict[int, np.ndarray] = field(default_factory=dict)
    onsets_are_pitches: bool = True  # targets >= FIRST_PITCH_ID are note onsets (melody models)


@dataclass
class TrainResult:
    model: keras.Model  # the sequence model with the best weights
    config: ModelConfig
    task: Task
    settings: TrainSettings
    metrics: dict  # held-out metrics of the best weights, see ``evaluate_windows``
    history: list[dict] = field(default_factory=list)  # one row per epoch, as in the CSV


def interval_key(tokens: Sequence[str]) -> tuple[int, ...]:
    """The song's melody as pitch intervals (top note of each onset): equal for a song and its
    transposed or re-barred copies, which Essen holds across its subsets."""
    tops = [max(int(p) for p in t.split(".")) for t in tokens if t not in SPECIAL_TOKENS]
    return tuple(b - a for a, b in zip(tops, tops[1:]))


def split_songs(songs: Sequence, val_fraction: float, seed: int, key: Callable = lambda s: interval_key(s.tokens)):
    """(train, validation) lists, split by groups of songs with equal ``key``; both keep corpus order.

    Near-duplicates land on one side only, so the validation songs are songs the model never heard.
    At least one group goes each way when there are two or more.
    """
    if len(songs) < 2:
        raise JamdError(f"{len(songs)} usable song(s): training needs at least 2 (one is held out)")
    if not 0.0 < val_fraction < 1.0:
        raise JamdError(f"val_fraction={val_fraction}: expected a share between 0 and 1, e.g. 0.1")
    groups: dict = {}
    for i, song in enumerate(songs):
        groups.setdefault(key(song), []).append(i)
    if len(groups) < 2:
        raise JamdError(f"all {len(songs)} songs are copies of one melody: nothing to hold out")
    order = list(groups.values())
    wanted = min(len(songs) - 1, max(1, round(len(songs) * val_fraction)))
    held: set[int] = set()
    for g in np.random.default_rng(seed).permutation(len(order)):
        if len(held) >= wanted or len(held) + len(order[g]) >= len(songs):
            continue
        held.update(order[g])
    train = [s for i, s in enumerate(songs) if i not in held]
    val = [s for i, s in enumerate(songs) if i in held]
    return train, val


def allowed_shifts(task: Task, example: Example, shifts: Sequence[int]) -> list[int]:
    """0 and every shift whose moved tokens are all in the vocabulary."""
    return [0] + [s for s in shifts if s != 0 and s in task.x_tables and (task.x_tables[s][example.x] >= 0).all()]


def windows(examples: Sequence[Example], window: int, rng: np.random.Generator | None):
    """Inputs (ids, bar_step, bar_steps), targets and weights, each [n, window]; padding has weight 0.

    With ``rng`` each song's cut points move by a random offset, so the model sees every step
    both early and late in a window across epochs.
    """
    xs, ps, ys, ws = [], [], [], []
    for ex in examples:
        n = len(ex.x)
        first = int(rng.integers(window)) if rng is not None and n > window else 0
        cuts = ([0] if first else []) + list(range(first, n, window))
        for a, b in zip(cuts, cuts[1:] + [n]):
            if b <= a:
                continue
            pad = window - (b - a)
            xs.append(np.pad(ex.x[a:b], (0, pad), constant_values=REST_ID))
            ps.append(np.pad(ex.positions[a:b], ((0, pad), (0, 0)), mode="edge"))
            ys.append(np.pad(ex.y[a:b], (0, pad)))
            ws.append(np.pad(np.ones(b - a, np.float32), (0, pad)))
    p = np.stack(ps).astype(np.int32)
    return [np.stack(xs).astype(np.int32), p[..., 0], p[..., 1]], np.stack(ys).astype(np.int32), np.stack(ws)


def _inputs(config: ModelConfig, x: list[np.ndarray]) -> list[np.ndarray]:
    return x if config.position else x[:1]


def evaluate_windows(model: keras.Model, config: ModelConfig, x, y, w, batch: int, onsets: bool = True) -> dict:
    """Held-out metrics over the weighted steps: loss in nats and bits/step, accuracy, onset accuracy.

    Onset accuracy (melody models): on steps whose target is a note or chord onset, is the
    likeliest pitch token the one played? (``hold`` and ``rest`` dominate a grid: plain accuracy
    looks better than the music is.) The same definition as ``training/evaluate.py``.
    """
    logits = model.predict(_inputs(config, x), batch_size=batch, verbose=0).astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    mask = w > 0
    correct = (logits.argmax(axis=-1) == y) & mask
    loss = float(nll[mask].mean())
    out = {"loss_nats": round(loss, 5), "bits_per_step": round(loss * BITS, 5),
           "accuracy": round(float(correct.sum() / mask.sum()), 5), "steps": int(mask.sum())}
    if onsets:
        onset = mask & (y >= FIRST_PITCH_ID)
        pitch_correct = logits[..., FIRST_PITCH_ID:].argmax(axis=-1) + FIRST_PITCH_ID == y
        out["onset_accuracy"] = round(float(pitch_correct[onset].sum() / max(1, onset.sum())), 5)
        out["onset_steps"] = int(onset.sum())
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def fit(task: Task, settings: TrainSettings, workdir: Path, *, verbose: int = 1, resume: bool = False) -> TrainResult:
    """Train on ``task``; write ``train.csv``, the curves (``*.png``) and ``best.weights.h5`` in ``workdir``.

    ``resume``: go on from the run ``workdir`` holds (its best weights, epochs and learning rate), for
    fits longer than one sitting; not bit-identical to an unbroken run (Adam's moments start afresh).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seed_everything(settings.seed)
    rng = np.random.default_rng(settings.seed)
    shifts = settings.shifts if settings.augment else (0,)
    allowed = [allowed_shifts(task, ex, shifts) for ex in task.train]
    config = ModelConfig(len(task.vocab), settings.embedding, settings.units, settings.layers,
                         outputs=len(task.outputs) if task.outputs != task.vocab.tokens else 0,
                         position=settings.position, position_embedding=settings.position_embedding,
                         dropout=settings.dropout)
    model = compiled_model(config, settings.lr)
    print(f"{task.kind} model: {config.layers}x LSTM-{config.units}, embedding {config.embedding}"
          f"{' + bar position' if config.position else ''}, vocabulary {len(task.vocab)}, {len(task.outputs)} "
          f"outputs, {model.count_params():,} parameters; {len(task.train)} training / {len(task.val)} "
          "validation songs", file=sys.stderr)
    val_data = windows(task.val, settings.window, None)
    # The training side of the curves is scored on as many untransposed windows as validation has.
    sample = windows(task.train, settings.window, None)
    sample = ([a[: len(val_data[1])] for a in sample[0]], sample[1][: len(val_data[1])], sample[2][: len(val_data[1])])

    def next_epoch():
        moved = []
        for ex, ok in zip(task.train, allowed):
            s = ok[rng.integers(len(ok))]
            moved.append(ex if s == 0 else Example(ex.name, task.x_tables[s][ex.x].astype(np.int32), ex.positions,
                                                   task.y_tables[s][ex.y].astype(np.int32)))
        return windows(moved, settings.window, rng)

    def on_epoch(history: list[dict]) -> None:
        if task.onsets_are_pitches:
            history[-1]["onset_accuracy"] = evaluate_windows(model, config, *sample, settings.batch)["onset_accuracy"]
            history[-1]["val_onset_accuracy"] = evaluate_windows(model, config, *val_data,
                                                                 settings.batch)["onset_accuracy"]
        _write_log(workdir, history, task.kind)

    history = resumed(model, workdir) if resume else []
    history = fit_epochs(model, config, next_epoch, val_data, settings, workdir / "best.weights.h5", rng, verbose,
                         on_epoch, history)
    metrics = {f"val_{k}": v for k, v in
               evaluate_windows(model, config, *val_data, settings.batch, task.onsets_are_pitches).items()}
    best_row = min(history, key=lambda r: r["val_loss"])
    metrics.update(epochs=len(history), best_epoch=best_row["epoch"],
                   stopped="early" if len(history) < settings.epochs else "epoch cap",
                   tokens_per_s=round(float(np.mean([r["tokens_per_s"] for r in history]))),
                   train_seconds=round(sum(r["seconds"] for r in history), 1))
    return TrainResult(model, config, task, settings, metrics, history)


def compiled_model(config: ModelConfig, lr: float) -> keras.Model:
    """The sequence model, compiled for next-step training with padding masked out."""
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


def resumed(model, workdir: Path) -> list[dict]:
    """The epochs of the run in ``workdir`` (``train.csv``), its best weights loaded into ``model``."""
    log, best = workdir / "train.csv", workdir / "best.weights.h5"
    if not log.is_file() or not best.is_file():
        raise JamdError(f"{workdir}: nothing to resume (needs train.csv and best.weights.h5 of an earlier run)")
    with open(log, newline="") as f:
        history = [{k: int(v) if k in ("epoch", "tokens_per_s") else float(v) for k, v in row.items()}
                   for row in csv.DictReader(f)]
    model.load_weights(best)
    print(f"resuming {workdir} after epoch {len(history)} (best validation loss "
          f"{min(r['val_loss'] for r in history):.4f})", file=sys.stderr)
    return history


def fit_epochs(model, config: ModelConfig, next_epoch, val_data, settings: TrainSettings, best_path: Path,
               rng: np.random.Generator, verbose: int = 1, on_epoch=None, history: list[dict] | None = None
               ) -> list[dict]:
    """Train epoch by epoch on ``next_epoch() -> (inputs, y, w)`` until the validation loss stops improving.

    The learning rate halves after ``lr_patience`` epochs without a better validation loss; training
    stops after ``patience`` (or at ``epochs``). The best weights are kept in ``best_path`` and loaded
    back at the end. Returns one row per epoch; ``history`` (a resumed run's) goes on from its last.
    """
    history = list(history or [])
    val_x, val_y, val_w = val_data
    best = min((r["val_loss"] for r in history), default=math.inf)
    waited = len(history) - 1 - min(range(len(history)), key=lambda i: history[i]["val_loss"]) if history else 0
    if history:
        keras.backend.set_value(model.optimizer.learning_rate,
                                history[-1]["lr"] / (2 if waited and waited % settings.lr_patience == 0 else 1))
        if waited >= settings.patience:
            return history
    for epoch in range(len(history), settings.epochs):
        x, y, w = next_epoch()
        order = rng.permutation(len(y))
        began = time.perf_counter()
        fitted = model.fit(
            [a[order] for a in _inputs(config, x)], y[order], sample_weight=w[order], batch_size=settings.batch,
            shuffle=False, validation_data=(_inputs(config, val_x), val_y, val_w), epochs=epoch + 1,
            initial_epoch=epoch, verbose=verbose,
        ).history
        seconds = time.perf_counter() - began
        row = {
            "epoch": epoch + 1,
            "loss": round(fitted["xent"][-1] * BITS, 5),
            "accuracy": round(fitted["accuracy"][-1], 5),
            "val_loss": round(fitted["val_xent"][-1] * BITS, 5),
            "val_accuracy": round(fitted["val_accuracy"][-1], 5),
            "lr": float(f"{float(keras.backend.get_value(model.optimizer.learning_rate)):.3g}"),
            "seconds": round(seconds, 1),
            "tokens_per_s": round(float(w.sum()) / seconds),
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(history)
        print(f"epoch {row['epoch']}: loss {row['loss']:.4f} val_loss {row['val_loss']:.4f} bits/step, "
              f"val_accuracy {row['val_accuracy']:.4f}, lr {row['lr']:g}, {row['tokens_per_s']:,} training tokens/s",
              file=sys.stderr, flush=True)
        if not (math.isfinite(row["loss"]) and math.isfinite(row["val_loss"])):
            raise JamdError(f"training diverged at epoch {row['epoch']} (loss {row['loss']}); lower --lr")
        if row["val_loss"] < best - 1e-4:
            best, waited = row["val_loss"], 0
            model.save_weights(best_path)
            continue
        waited += 1
        if waited >= settings.patience:
            print(f"early stop: no better validation loss for {waited} epochs", file=sys.stderr)
            break
        if waited % settings.lr_patience == 0:
            lr = float(keras.backend.get_value(model.optimizer.learning_rate)) / 2
            keras.backend.set_value(model.optimizer.learning_rate, lr)
    model.load_weights(best_path)
    return history


def _write_log(workdir: Path, history: list[dict], kind: str) -> None:
    """The per-epoch CSV and the curves, rewritten after every epoch so a long run can be watched."""
    with open(workdir / "train.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    import matplotlib

    matplotlib.use("Agg")  # no display on a training box
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    epochs = [r["epoch"] for r in history]
    curves = (("loss", "cross-entropy (bits per step)", "loss"), ("accuracy", "next-step accuracy", "accuracy"),
              ("onset_accuracy", "onset accuracy (likeliest pitch where a note starts)", "onset accuracy"))
    for metric, label, title in curves:
        if metric not in history[0]:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, [r[metric] for r in history], marker="o", label="train")
        ax.plot(epochs, [r[f"val_{metric}"] for r in history], marker="o", label="validation")
        ax.set_title(f"{workdir.name} ({kind}): {title} per epoch")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(workdir / f"{metric}.png", dpi=100)
        plt.close(fig)
