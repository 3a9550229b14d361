"""One model step three ways, side by side in one run; prints microseconds and ratios, asserts nothing.

1. ``StepModel.step``: IOBinding onto preallocated buffers, state copied in place (what jamd runs);
2. a plain ``session.run`` with the same session options, feeding and fetching state as arrays;
3. the same plain run with onnxruntime's default options (threads spinning on every core).

Also the short-term model (``daemon.blend``: learn the token, blend with the LSTM) on a stream
the folk model sampled itself, and the engine's whole decision per grid step (feed, sample,
schedule) in duet mode, with the short-term model at its default strength and off.

    .venv/bin/python bench/model_step.py [--model folk] [--steps 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort

from daemon.blend import ShortTerm
from daemon.config import Config
from daemon.encoding import START_ID
from daemon.engine import Engine
from daemon.model import load_model, sample


def per_step(candidates: dict, steps: int, rounds: int = 7) -> dict:
    """Median microseconds per call of each candidate, run in turns so that load from other
    processes falls on all of them alike."""
    times: dict = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            began = time.perf_counter()
            for i in range(steps):
                fn(i)
            times[name].append((time.perf_counter() - began) / steps * 1e6)
    return {name: float(np.median(t)) for name, t in times.items()}


def plain(model, options):
    session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
    side = model.sidecar
    state = {s.input: np.zeros((1, s.size), np.float32) for s in side.state}
    names = [side.logits_output] + [s.output for s in side.state]

    def step(i):
        feeds = {side.token_input["name"]: np.array([[3 + i % 20]], np.int32), **state}
        logits, *new = session.run(names, feeds)
        for s, value in zip(side.state, new):
            state[s.input] = value
        probs = np.exp(logits[0] - logits[0].max())
        return probs / probs.sum()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="folk")
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    model = load_model(args.model)
    print(f"model {model.path} ({len(model.vocab)} tokens, state {[s.size for s in model.sidecar.state]})")

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    engine = Engine(Config(mode="duet", tempo=120.0), load_model(args.model), np.random.default_rng(0))
    engine.tick(0.0)
    lstm_only = Engine(Config(mode="duet", tempo=120.0, stm_strength=0.0), load_model(args.model),
                       np.random.default_rng(0))
    lstm_only.tick(0.0)
    rng, probs, stream = np.random.default_rng(0), model.step(START_ID), []
    for _ in range(4096):  # what the model plays: as repetitive as the short-term model will see
        token = sample(probs, 1.0, 0, rng)
        probs = model.step(token)
        stream.append((token, probs))
    short, strength = ShortTerm.for_model(model), Config().stm_strength
    step = 60.0 / 120.0 / model.steps_per_beat
    t = per_step({
        "jamd": lambda i: model.step(3 + i % 20),
        "same": plain(model, options),
        "default": plain(model, ort.SessionOptions()),
        "stm": lambda i: short.step(*stream[i % len(stream)], strength),
        "engine": lambda i: engine.tick(engine.next_tick_time()),
        "engine_lstm": lambda i: lstm_only.tick(lstm_only.next_tick_time()),
    }, args.steps)

    print(f"StepModel.step (IOBinding)      {t['jamd']:8.1f} us")
    print(f"session.run, same options       {t['same']:8.1f} us   ratio {t['same'] / t['jamd']:.2f}x")
    print(f"session.run, default options    {t['default']:8.1f} us   ratio {t['default'] / t['jamd']:.2f}x")
    print(f"short-term model step + blend   {t['stm']:8.1f} us   ratio {t['stm'] / t['jamd']:.2f}x of the LSTM step "
          f"(strength {strength}, {len(short.ppm)} contexts)")
    print(f"engine tick (duet, per event)   {t['engine']:8.1f} us   = {t['engine'] / (step * 1e6) * 100:.3f}% "
          f"of a {step * 1000:.0f} ms grid step")
    print(f"engine tick, short-term off     {t['engine_lstm']:8.1f} us   ratio {t['engine'] / t['engine_lstm']:.2f}x")


if __name__ == "__main__":
    main()
