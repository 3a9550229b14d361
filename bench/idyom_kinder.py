"""jamd's pitch prediction on Essen `kinder` beside IDyOM's published figures.

    .venv/bin/python bench/idyom_kinder.py [--quick] [--epochs N] [--workdir runs/idyom_kinder] [--resume]
    .venv/bin/python bench/idyom_kinder.py --model runs/idyom_kinder/kinder_bench.onnx  # rescore, no training

IDyOM (Pearce 2005, PhD thesis, Tables 6.4 and 6.6) predicts the pitch of every note of
the 213 `kinder` songs with 10-fold cross-validation by song, untransposed MIDI pitch,
each song's first note included: 2.428 bits/note with its long-term model (LTM) and 2.106
with long- plus short-term models (LTM+STM).

Here the folk recipe (``jamd.training.train.TrainSettings`` defaults: untransposed songs,
augmented by transposition) is trained on deutschl *without* kinder and without any song
whose pitch-interval sequence matches a kinder song (variants recur across Essen subsets),
then the kinder songs are scored the same way: -log2 P(pitch | a note starts here). The
project's n-gram (PPM-C, orders 0..8) is trained on the same songs. The "+STM" rows add a
short-term PPM that learns each kinder song as it is heard (reset per song), combined with
the long-term model as IDyOM does: a weighted arithmetic or geometric mean, weights
(H / H_max) ** -bias from each model's entropy over pitches. Which mean and which bias is
chosen on the model's own validation songs (deutschl, not kinder), never on kinder.

Differences worth knowing: IDyOM trains on the other kinder songs (9/10 of 213), jamd on
~4,500 songs of other subsets; jamd predicts on a 16th grid, so it knows when a note starts
and scores only the songs the grid can hold (triplet songs are skipped and counted).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from jamd.daemon.encoding import token_pitches
from jamd.daemon.model import load_model
from jamd.daemon.ppm import MAX_ORDER, PPM
from jamd.training.corpus import load_corpus
from jamd.training.evaluate import FIRST_PITCH_ID, evaluate_songs, lstm_predictions, model_split, ngram_predictions

DEUTSCHL = Path(__file__).resolve().parents[2] / "shared" / "data" / "essen-kern" / "deutschl"
IDYOM = {"IDyOM LTM (Pearce 2005, Table 6.4)": 2.428, "IDyOM LTM+STM (Pearce 2005, Table 6.6)": 2.106}
PREFIX = 16  # intervals: two songs opening with the same 16 intervals are variants of one tune
RULES = tuple((mean, bias) for mean in ("arithmetic", "geometric") for bias in (0.0, 1.0, 2.0))


def intervals(tokens) -> tuple[int, ...]:
    """Semitone steps between consecutive note onsets (top note of a chord): transposition-free."""
    tops = [max(p) for p in map(token_pitches, tokens) if p]
    return tuple(b - a for a, b in zip(tops, tops[1:]))


def without_kinder_variants(songs, kinder):
    """``songs`` minus those whose interval sequence equals, or opens like, a kinder song's."""
    whole = {intervals(s.tokens) for s in kinder}
    openings = {iv[:PREFIX] for iv in whole if len(iv) >= PREFIX}
    kept, dropped = [], []
    for song in songs:
        iv = intervals(song.tokens)
        (dropped if iv in whole or (len(iv) >= PREFIX and iv[:PREFIX] in openings) else kept).append(song)
    return kept, dropped


def onsets(predictions, songs_ids, vocab_size: int):
    """At every note onset: (long-term pitch distribution, short-term one, index of the pitch played).

    ``predictions(song)`` yields the long-term model's distribution before each token after
    ``start`` (``song``: ids and bar positions); the short-term PPM learns each song from scratch.
    """
    rows = []
    for song in songs_ids:
        ids = song[0]
        stm = PPM(vocab_size, MAX_ORDER)
        stm.update(ids[0])
        for token, p_long in zip(ids[1:], predictions(song)):
            if token >= FIRST_PITCH_ID:
                p_short = stm.distribution()[FIRST_PITCH_ID:]
                pitches = p_long[FIRST_PITCH_ID:]
                rows.append((pitches / pitches.sum(), p_short / p_short.sum(), token - FIRST_PITCH_ID))
            stm.update(token)
    return rows


def combine(p_long: np.ndarray, p_short: np.ndarray, rule: tuple[str, float]) -> np.ndarray:
    """IDyOM's combination of two distributions: a mean weighted by (relative entropy) ** -bias."""
    mean, bias = rule
    weights = []
    for p in (p_long, p_short):
        entropy = -float(np.sum(p * np.log2(np.maximum(p, 1e-300))))
        weights.append((max(entropy, 1e-6) / math.log2(len(p))) ** -bias)
    w_long, w_short = weights
    if mean == "arithmetic":
        return (w_long * p_long + w_short * p_short) / (w_long + w_short)
    log = (w_long * np.log(np.maximum(p_long, 1e-300)) + w_short * np.log(np.maximum(p_short, 1e-300)))
    log /= w_long + w_short
    p = np.exp(log - log.max())
    return p / p.sum()


def bits_per_note(rows, rule: tuple[str, float] | None) -> float:
    """Mean -log2 P(pitch played): the long-term model alone (rule None) or combined with the STM."""
    return float(np.mean([-math.log2((combine(pl, ps, rule) if rule else pl)[played]) for pl, ps, played in rows]))


def with_stm(predictions, validation_ids, kinder_ids, vocab_size: int) -> tuple[float, tuple[str, float]]:
    """Bits/note on kinder with the STM, the combination rule chosen on the validation songs."""
    held_out = onsets(predictions, validation_ids, vocab_size)
    rule = min(RULES, key=lambda r: bits_per_note(held_out, r))
    return bits_per_note(onsets(predictions, kinder_ids, vocab_size), rule), rule


def train_model(args, train, others):
    """Fit and export the folk recipe on ``train``; return (onnx path, training songs, validation songs)."""
    from jamd.training.export import export  # TensorFlow only when training
    from jamd.training.settings import from_values
    from jamd.training.tasks import melody_task
    from jamd.training.train import fit

    overrides = {"seed": args.seed}
    if args.quick:
        rng = np.random.default_rng(args.seed)
        train = [train[i] for i in sorted(rng.choice(len(train), min(600, len(train)), replace=False))]
        overrides.update(units=128, epochs=3)
    if args.epochs:
        overrides["epochs"] = args.epochs
    settings = from_values(overrides)
    workdir = Path(args.workdir)
    result = fit(melody_task(train, settings), settings, workdir, verbose=2, resume=args.resume)
    val_songs, train_songs = result.task.val_songs, result.task.train_songs
    check = max(val_songs[:20], key=lambda s: len(s.tokens))
    onnx_path = workdir / "kinder_bench.onnx"
    export(result.model, result.config, result.task.vocab, check.tokens, onnx_path, check.positions(),
           name="kinder_bench", steps_per_beat=4,
           corpus={"sources": others, "settings": {"steps_per_beat": 4, "transpose": "none"}},
           training={**settings.to_dict(), "validation_songs": [s.name for s in val_songs],
                     "quick": args.quick, "kinder_variants_excluded": True},
           metrics=result.metrics)
    return onnx_path, train_songs, val_songs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEUTSCHL), help="the deutschl directory (default ../shared/data/...)")
    parser.add_argument("--epochs", type=int, help="at most this many epochs (default: the recipe's)")
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes: 600 training songs, LSTM-128, 3 epochs (figures are not the recipe's)")
    parser.add_argument("--model", help="score a model this script exported before instead of training one")
    parser.add_argument("--workdir", default="runs/idyom_kinder", help="checkpoints and the exported model")
    parser.add_argument("--resume", action="store_true",
                        help="go on from the run in --workdir (its best weights, epochs and learning rate)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    data = Path(args.data)
    if not (data / "kinder").is_dir():
        sys.exit(f"{data / 'kinder'}: not found; give --data the essen-kern/deutschl directory")
    began = time.perf_counter()
    others = sorted(str(d) for d in data.iterdir() if d.is_dir() and d.name != "kinder")
    kinder = load_corpus([str(data / "kinder")])
    if args.model:
        model = load_model(args.model)
        split = model_split(model)
        trained = model.sidecar.training
        if split is None or not trained.get("kinder_variants_excluded") or trained.get("quick"):
            sys.exit(f"{args.model}: not a full model this script trained (its training songs cannot be rebuilt)")
        train_songs, val_songs = without_kinder_variants(split[0], kinder.songs)[0], split[1]
    else:
        train, dropped = without_kinder_variants(load_corpus(others).songs, kinder.songs)
        print(f"training pool: {len(train)} songs of {', '.join(Path(o).name for o in others)}, "
              f"{len(dropped)} dropped as kinder variants", file=sys.stderr)
        onnx_path, train_songs, val_songs = train_model(args, train, others)
        model = load_model(onnx_path)

    report = evaluate_songs(model, kinder.songs, train_songs, skipped=len(kinder.skipped))
    vocab = model.vocab
    kinder_ids = [(vocab.encode(s.tokens), s.positions()) for s in kinder.songs]
    val_ids = [(vocab.encode(s.tokens), s.positions()) for s in val_songs]
    ngram = PPM(len(vocab), MAX_ORDER).fit(vocab.encode(s.tokens) for s in train_songs)
    lstm_stm, lstm_rule = with_stm(lambda song: lstm_predictions(model, song), val_ids, kinder_ids, len(vocab))
    ngram_stm, ngram_rule = with_stm(lambda song: ngram_predictions(ngram, song), val_ids, kinder_ids, len(vocab))
    rows = {
        **IDYOM,
        "jamd LSTM": report["lstm"]["bits_per_note"],
        f"jamd LSTM + STM ({lstm_rule[0]}, bias {lstm_rule[1]:g})": lstm_stm,
        f"n-gram PPM-C 0..{MAX_ORDER}": report["ngram"]["bits_per_note"],
        f"n-gram PPM-C 0..{MAX_ORDER} + STM ({ngram_rule[0]}, bias {ngram_rule[1]:g})": ngram_stm,
    }
    width = max(map(len, rows))
    lstm = report["lstm"]
    print(f"\npitch prediction on Essen kinder, bits/note (lower is better): {lstm['notes']} notes in "
          f"{lstm['songs']} songs ({lstm['skipped']} skipped: off the 16th grid); the STM rule chosen on "
          f"{len(val_songs)} deutschl validation songs")
    for name, bits in rows.items():
        print(f"  {name:<{width}}  {bits:6.3f}   ratio to IDyOM LTM {bits / IDYOM[next(iter(IDYOM))]:.2f}")
    metrics = model.sidecar.metrics
    print(f"\nLSTM: {lstm['bits_per_step']:.3f} bits/step, onset accuracy {lstm['onset_accuracy']:.1%}, "
          f"{lstm['oov_steps']} steps outside the vocabulary; {metrics.get('epochs')} epochs on "
          f"{len(train_songs)} songs ({'quick' if model.sidecar.training.get('quick') else 'recipe'}); "
          f"{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
