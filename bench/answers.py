"""Does jamd answer in the key of the phrase? Printed side by side with a random baseline, not asserted.

For each tune opening (the Nottingham melody fixtures, 120 bpm with no tempo event, cut after
``--seconds``), each mode and each seed, the engine plays along in simulated time; we count
jamd's notes whose pitch class the player used in the phrase, next to what uniformly random
pitches in the model's range would score.

    .venv/bin/python bench/answers.py [--model folk] [--seeds 8] [--seconds 12]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mido
import numpy as np

from jamd.daemon.config import Config
from jamd.daemon.engine import Engine
from jamd.daemon.model import load_model
from jamd.daemon.offline import read_events, simulate

TUNES = sorted((Path(__file__).parents[1] / "tests" / "fixtures" / "nottingham" / "melody").glob("*.mid"))


def opening(path: Path, seconds: float) -> list[tuple[float, mido.Message]]:
    """The tune's note messages up to ``seconds``, with every note that began there ended."""
    events, sounding = [], set()
    for when, msg in read_events(path).events:
        if msg.type not in ("note_on", "note_off"):
            continue
        on = msg.type == "note_on" and msg.velocity > 0
        if when > seconds and (on or msg.note not in sounding):
            continue
        (sounding.add if on else sounding.discard)(msg.note)
        events.append((when, msg))
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="folk")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    model = load_model(args.model)
    low, high = model.vocab.pitch_range
    print(f"model {model.path}; tunes {[t.stem for t in TUNES]}; {args.seeds} seeds; openings of {args.seconds:g} s")
    baseline_rng = np.random.default_rng(0)
    for mode in ("respond", "next", "duet"):
        hits = total = random_hits = 0
        for tune in TUNES:
            phrase = opening(tune, args.seconds)
            classes = {m.note % 12 for _, m in phrase if m.type == "note_on" and m.velocity > 0}
            for seed in range(args.seeds):
                config = Config(mode=mode, tempo=120.0, beats_per_bar=3, seed=seed)
                engine = Engine(config, model, np.random.default_rng(seed))
                out = simulate(engine, phrase, phrase[-1][0] + 6.0)  # room for a 2-bar answer
                notes = [m.note for _, m in out if m.type == "note_on" and m.velocity > 0 and m.channel == 1]
                hits += sum(n % 12 in classes for n in notes)
                total += len(notes)
                random_hits += sum(p % 12 in classes for p in baseline_rng.integers(low, high + 1, len(notes)))
        share, chance = hits / max(total, 1), random_hits / max(total, 1)
        print(f"{mode:8s} {total:5d} jamd notes, {share:.2f} in the phrase's pitch classes; "
              f"random pitches {chance:.2f}; ratio {share / max(chance, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
