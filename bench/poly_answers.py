"""Choose how `piano` draws its answers (``daemon/poly_play.py``): ``ANSWER_TEMPERATURE``, at which
it picks which notes, and ``ANSWER_TIMING``, at which it picks whether to end a note, strike one
or end the step (None: both at the first).

A low temperature alone thickens the chords toward the music's, but it also cuts notes short: the
likeliest token is often a note's end. Measured as ``jamd-train audition-poly piano --split train``
does, on 40 pieces the model trained on (the held-out ones choose nothing). For each setting it
prints the answers' figures beside the real continuations', and the setting chosen: issue 14's
targets met, then the smallest sum of the relative gaps to the music in chords of 3+ notes,
notes sounding and notes held under a later onset.

    .venv/bin/python bench/poly_answers.py [--model piano]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jamd.daemon import poly_play  # noqa: E402
from jamd.training.poly_report import FIGURES, audition_poly  # noqa: E402

TIMINGS = (None, 0.8, 1.0, 1.2, 1.5)
TEMPERATURES = (0.2, 0.3, 0.4, 0.5, 0.65, 0.8)
TEXTURE = ("chords_3", "sounding", "held")  # how full the answers sound, against the music


def targets_met(jamd: dict, real: dict) -> bool:
    """Issue 14's targets for the answers (``training/poly_report.TARGETS``)."""
    return (jamd["in_key"] >= 0.90 and abs(jamd["chords_3"] - real["chords_3"]) <= 0.3 * real["chords_3"]
            and jamd["sounding"] >= 1.8 and jamd["leaps"] <= 0.30 and jamd["silent"] <= 0.15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="piano", help="the poly model (default piano)")
    args = parser.parse_args()
    shipped = (poly_play.ANSWER_TIMING, poly_play.ANSWER_TEMPERATURE)
    print("  timing  temperature  gap    " + " ".join(f"{f:>8}" for f in FIGURES))
    gaps = {}
    for timing, temperature in itertools.product(TIMINGS, TEMPERATURES):
        poly_play.ANSWER_TIMING, poly_play.ANSWER_TEMPERATURE = timing, temperature
        report = audition_poly([args.model], split="train")
        jamd, real = report["figures"][report["models"][0]], report["figures"]["real"]
        gap = sum(abs(jamd[f] - real[f]) / real[f] for f in TEXTURE)
        gaps[timing, temperature] = gap if targets_met(jamd, real) else float("inf")
        print(f"  {str(timing):>6}  {temperature:11.2f}  {gap:5.3f}  " + " ".join(f"{jamd[f]:8.3f}" for f in FIGURES)
              + ("" if targets_met(jamd, real) else "  (a target missed)"), flush=True)
    print(f"  {'real':>6}  {'':11}  {'':5}  " + " ".join(f"{real[f]:8.3f}" for f in FIGURES))
    chosen = min(gaps, key=gaps.get)
    print(f"chosen: ANSWER_TIMING = {chosen[0]}, ANSWER_TEMPERATURE = {chosen[1]} (gap {gaps[chosen]:.3f}; "
          f"shipped {shipped[0]}, {shipped[1]})")
    poly_play.ANSWER_TIMING, poly_play.ANSWER_TEMPERATURE = shipped
    return 0


if __name__ == "__main__":
    sys.exit(main())
