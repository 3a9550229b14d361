"""Per-step latency of each shipped model: the daemon's carried ONNX step vs the seeds' Keras predict.

    .venv/bin/python bench/step_latency.py [MODEL ...] [--steps 2000] [--predicts 50]

For each model (default: every models/*.onnx), side by side in one run:

- ``onnx step``: ``jamd.daemon.model.StepModel.step`` (onnxruntime, 1 thread, state carried), what
  the daemon pays per grid step;
- ``keras predict``: what the seeds did to predict one note: ``model.predict`` on the last
  64-step window, recomputing the whole window every time. The Keras model has the shipped
  model's sizes (and its best checkpoint from runs/NAME when there is one: the weights do
  not change the time).

Prints median and p99 in milliseconds and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

WINDOW = 64  # the seeds' prediction window, grid steps


def time_onnx(model, steps: int, rng: np.random.Generator) -> np.ndarray:
    ids = rng.integers(3, len(model.vocab), steps)
    for token in ids[:100]:  # warm-up: first runs allocate
        model.step(int(token))
    times = np.empty(steps)
    for i, token in enumerate(ids):
        began = time.perf_counter()
        model.step(int(token))
        times[i] = time.perf_counter() - began
    return times


def time_keras(sidecar, onnx_path, predicts: int, rng: np.random.Generator) -> np.ndarray:
    from jamd.training import model as network

    config = network.ModelConfig(**sidecar.training["model"])
    keras_model = network.sequence_model(config)
    checkpoint = onnx_path.parents[1] / "runs" / sidecar.name / "best.weights.h5"
    if checkpoint.exists():
        keras_model.load_weights(checkpoint)
    window = rng.integers(3, len(sidecar.vocabulary), (1, WINDOW)).astype(np.int32)
    for _ in range(5):
        keras_model.predict(window, verbose=0)
    times = np.empty(predicts)
    for i in range(predicts):
        began = time.perf_counter()
        keras_model.predict(window, verbose=0)[0, -1]
        times[i] = time.perf_counter() - began
    return times


def main() -> None:
    from jamd.daemon.model import load_model, resolve_model, shipped_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model names or .onnx paths (default: every shipped model)")
    parser.add_argument("--steps", type=int, default=2000, help="ONNX steps timed per model")
    parser.add_argument("--predicts", type=int, default=50, help="Keras predict calls timed per model")
    args = parser.parse_args()
    names = args.models or shipped_models()
    if not names:
        raise SystemExit("no models: build them with `make models`")
    rng = np.random.default_rng(0)
    print(f"{'model':<18} {'size MB':>7} {'onnx step ms (median/p99)':>26} "
          f"{'keras predict ms (median/p99)':>30} {'ratio':>7}")
    for name in names:
        path = resolve_model(name)
        model = load_model(path)
        onnx = time_onnx(model, args.steps, rng)
        keras = time_keras(model.sidecar, path, args.predicts, rng)
        print(f"{model.name:<18} {path.stat().st_size / 1e6:>7.1f} "
              f"{np.median(onnx) * 1e3:>12.3f} / {np.percentile(onnx, 99) * 1e3:>8.3f}    "
              f"{np.median(keras) * 1e3:>14.2f} / {np.percentile(keras, 99) * 1e3:>8.2f}    "
              f"{np.median(keras) / np.median(onnx):>6.0f}x")


if __name__ == "__main__":
    main()
