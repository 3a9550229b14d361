"""Cost of one PPM step (update + distribution) on real folk tokens, beside one LSTM step.

    .venv/bin/python bench/ppm_speed.py [SOURCE ...] [--model folk]

The daemon steps its models once per grid step (150 ms at 100 bpm in 16ths); this prints
microseconds per step for the n-gram as the evaluation baseline uses it (fitted, then only
fed) and as the daemon's short-term model uses it (learning every step, bounded window),
and, if a model is given, the LSTM's ONNX step and the ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from jamd.daemon.encoding import Vocabulary
from jamd.daemon.ppm import PPM
from jamd.training.corpus import load_corpus

KINDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "essen-kern" / "deutschl" / "kinder"


def per_step(run, steps: int) -> float:
    """Microseconds per step of ``run()``, which performs ``steps`` steps; best of three."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", default=[str(KINDER)])
    parser.add_argument("--model", help="an exported model (name or .onnx) to time beside the n-gram")
    parser.add_argument("--window", type=int, default=2048, help="short-term memory, grid steps")
    args = parser.parse_args()

    songs = [s.tokens for s in load_corpus(args.sources).songs]
    model = None
    if args.model:
        from jamd.daemon.model import load_model

        model = load_model(args.model)
    # The model's own vocabulary when given: the size the daemon's short-term model will have.
    vocab = model.vocab if model else Vocabulary.build(songs)
    ids = [vocab.encode(s) for s in songs]
    train, test = ids[: len(ids) * 9 // 10], ids[len(ids) * 9 // 10:]
    stream = [t for song in test for t in song]
    out = np.empty(len(vocab))
    print(f"{len(songs)} songs, vocabulary {len(vocab)}, {len(stream)} test steps")

    began = time.perf_counter()
    ltm = PPM(len(vocab)).fit(train)
    fit_s = time.perf_counter() - began

    def fitted():
        ltm.reset()
        for t in stream:
            ltm.update(t, learn=False)
            ltm.distribution(out)

    def online():
        stm = PPM(len(vocab), window=args.window)
        for t in stream:
            stm.update(t)
            stm.distribution(out)

    rows = {"n-gram fitted (evaluation)": per_step(fitted, len(stream)),
            f"n-gram learning, window {args.window} (daemon)": per_step(online, len(stream))}
    if model:
        def lstm():
            model.reset()
            for t in stream:
                model.step(t)

        rows[f"LSTM {model.name} (onnxruntime)"] = per_step(lstm, len(stream))
    print(f"fit: {fit_s:.2f} s for {sum(map(len, train))} tokens, {len(ltm)} contexts")
    base = rows["n-gram learning, window %d (daemon)" % args.window]
    for name, us in rows.items():
        print(f"  {name:<40} {us:7.1f} us/step   ratio {us / base:.2f}")


if __name__ == "__main__":
    main()
