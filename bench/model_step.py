"""One model step three ways, side by side in one run; prints microseconds and ratios, asserts nothing.

1. ``StepModel.step``: IOBinding onto preallocated buffers, the state in ping-pong buffers (what
   jamd runs), and ``StepModel.feed``, the same without the softmax (a step where jamd listens);
2. a plain ``session.run`` with the same session options, feeding and fetching state as arrays;
3. the same plain run with onnxruntime's default options (threads spinning on every core).

Also the short-term model (``jamd.daemon.blend``) on a stream the model sampled itself, in three
parts: learn the token (every grid step), query its distribution and blend it with the LSTM's
(only on a step where jamd plays); and the engine's whole decision per grid step (feed,
sample, schedule) in duet mode, with the short-term model at its default strength and off.

Last, the work of a whole grid step with a polyphonic model (``--poly``, several model steps a
grid step: the step's tokens fed, the next one imagined token by token) beside the melody
model's, played along with a real tune in simulated time: median and p99 per grid step, in µs.

    .venv/bin/python bench/model_step.py [--model folk] [--poly piano] [--steps 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort

from jamd.daemon.blend import ShortTerm
from jamd.daemon.config import Config
from jamd.daemon.encoding import START_ID
from jamd.daemon.engine import Engine
from jamd.daemon.model import load_model, sample


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
            # onnxruntime's default threads spin on after a run: on one core (taskset) they would
            # be timed as part of the next candidate.
            time.sleep(0.1)
    return {name: float(np.median(t)) for name, t in times.items()}


def plain(model, options):
    session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
    side = model.sidecar
    state = {s.input: np.zeros((1, s.size), np.float32) for s in side.state}
    names = [side.logits_output] + [s.output for s in side.state]

    def step(i):
        fill = {"token": 3 + i % 20, "bar_step": i % 16, "bar_steps": 16}
        feeds = {x.name: np.array([[fill[x.fill]]], np.dtype(x.dtype)) for x in side.inputs}
        feeds.update(state)
        logits, *new = session.run(names, feeds)
        for s, value in zip(side.state, new):
            state[s.input] = value
        probs = np.exp(logits[0] - logits[0].max())
        return probs / probs.sum()

    return step


def short_term_candidates(model) -> tuple[ShortTerm, dict]:
    """A short-term model that has learned a full window of what ``model`` plays, and the three
    timed calls ``print_short_term`` tells apart: learn, learn + query, learn + blend."""
    rng, probs, stream = np.random.default_rng(0), model.step(START_ID), []
    for _ in range(4096):  # what the model plays: as repetitive as the short-term model will see
        token = sample(probs, 1.0, 0, rng)
        probs = model.step(token)
        stream.append((token, probs))
    short, strength = ShortTerm.for_model(model), Config().stm_strength
    stm = np.empty(len(model.vocab))
    for token, _ in stream:  # a full window: from here on every token learned forgets one
        short.learn(token)

    # Query and blend cannot run without the learning that moves the context on, so they are
    # timed as learn + query and learn + blend (which queries first), then told apart.
    def learn(i):
        short.learn(stream[i % len(stream)][0])

    def learn_query(i):
        short.learn(stream[i % len(stream)][0])
        short.ppm.distribution(stm)

    def learn_blend(i):
        token, lstm = stream[i % len(stream)]
        short.learn(token)
        short.blend(lstm, strength)

    return short, {"learn": learn, "learn_query": learn_query, "learn_blend": learn_blend}


def print_short_term(short: ShortTerm, t: dict) -> None:
    """The short-term model's costs from ``per_step`` times, beside the LSTM step ``t["jamd"]``."""
    strength = Config().stm_strength
    query, blend = t["learn_query"] - t["learn"], t["learn_blend"] - t["learn_query"]
    print(f"short-term model ({len(short.ppm)} contexts, strength {strength}), ratios to the LSTM step:")
    print(f"  learn (every grid step)       {t['learn']:8.1f} us   ratio {t['learn'] / t['jamd']:.2f}x")
    print(f"  query (when jamd plays)       {query:8.1f} us   ratio {query / t['jamd']:.2f}x")
    print(f"  blend (when jamd plays)       {blend:8.1f} us   ratio {blend / t['jamd']:.2f}x")


TUNE = "tests/fixtures/nottingham/melody/ashover1.mid"


def grid_step_work(model_name: str, mode: str) -> np.ndarray:
    """Microseconds of each grid step's work (``_close_window``, and harmonize's ``hear``) while
    ``mode`` plays along with ``TUNE`` four times over, in simulated time."""
    from jamd.daemon.offline import read_events, simulate

    part = read_events(TUNE)
    engine = Engine(Config(mode=mode, tempo=part.bpm or 120.0, beats_per_bar=3), load_model(model_name),
                    np.random.default_rng(0))
    times: list[float] = []
    for name in ("_close_window", "_hear_open_step"):
        work = getattr(engine, name)

        def timed(work=work):
            began = time.perf_counter()
            work()
            times.append((time.perf_counter() - began) * 1e6)

        setattr(engine, name, timed)
    length = part.events[-1][0] + 1.0
    events = [(t + i * length, m) for i in range(4) for t, m in part.events]
    simulate(engine, events, 4 * length)
    return np.asarray(times[50:])  # past the first steps' cold caches


def print_grid_steps(melody: str, poly: str) -> None:
    rows = [(melody, "duet"), (poly, "respond"), (poly, "duet"), (poly, "harmonize")]
    work = {row: grid_step_work(*row) for row in rows}
    base = np.median(work[rows[0]])
    print("a grid step's work (feed the step; decide and imagine the next), playing along with a real tune:")
    for (name, mode), t in work.items():
        print(f"  {name:>10} {mode:<10} median {np.median(t):7.1f} us   p99 {np.percentile(t, 99):7.1f} us   "
              f"median ratio {np.median(t) / base:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="folk")
    parser.add_argument("--poly", default="piano", help="a polyphonic model for the grid-step comparison")
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
    short, stm_candidates = short_term_candidates(model)
    step = 60.0 / 120.0 / model.steps_per_beat
    t = per_step({
        "jamd": lambda i: model.step(3 + i % 20),
        "feed": lambda i: model.feed(3 + i % 20),
        "same": plain(model, options),
        "default": plain(model, ort.SessionOptions()),
        **stm_candidates,
        "engine": lambda i: engine.tick(engine.next_tick_time()),
        "engine_lstm": lambda i: lstm_only.tick(lstm_only.next_tick_time()),
    }, args.steps)

    print(f"StepModel.step (IOBinding)      {t['jamd']:8.1f} us")
    print(f"StepModel.feed (no softmax)     {t['feed']:8.1f} us   ratio {t['feed'] / t['jamd']:.2f}x")
    print(f"session.run, same options       {t['same']:8.1f} us   ratio {t['same'] / t['jamd']:.2f}x")
    print(f"session.run, default options    {t['default']:8.1f} us   ratio {t['default'] / t['jamd']:.2f}x")
    print_short_term(short, t)
    print(f"engine tick (duet, per event)   {t['engine']:8.1f} us   = {t['engine'] / (step * 1e6) * 100:.3f}% "
          f"of a {step * 1000:.0f} ms grid step")
    print(f"engine tick, short-term off     {t['engine_lstm']:8.1f} us   ratio {t['engine'] / t['engine_lstm']:.2f}x")
    print_grid_steps(args.model, args.poly)


if __name__ == "__main__":
    main()
