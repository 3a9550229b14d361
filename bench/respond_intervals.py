"""Choose respond's ``REPEAT`` and ``LEAP`` (``daemon/modes.py``): how much less likely an answer's
next note is when it repeats the note just played, and when it lies more than a fifth from it.

Without them the answers of `nottingham` leap about (9% of intervals larger than a fifth,
against its tunes' 3%) and repeat notes; too much of either weight and they only step. Measured
on held-out tunes no report plays (as ``bench/next_due.py``: each model's own held-out tunes
outside the 40 a report on them plays; `folk`'s main report plays the unheard essenFolksong
regions, which choose nothing). For each pair of weights it prints the answers' interval profile
and its distance from the real continuations' (total variation over repeat, step, skip, leap,
larger), with respond's other figures, and the pair chosen: every respond target of issue 13 met
on both models, then the smallest distance on the model it fits worse.

    .venv/bin/python bench/respond_intervals.py [--tunes 60] [--seeds 3]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from next_due import DATA, tuning_tunes  # noqa: E402

from jamd.daemon import modes  # noqa: E402
from jamd.training.playalong import measure  # noqa: E402
from jamd.training.report import TARGETS, _met  # noqa: E402

REPEATS = (0.3, 0.6, 1.0)
LEAPS = (1.0, 0.5, 0.3, 0.2)
BANDS = ("interval_repeat", "interval_step", "interval_skip", "interval_leap", "interval_large")


RESPOND = [key.split()[1] for key in TARGETS if key.startswith("respond ")]


def met(jamd) -> bool:
    """Whether ``jamd``'s respond figures meet every respond target (``training/report.TARGETS``)."""
    return all(_met(TARGETS[f"respond {name}"], jamd[name].value, None) for name in RESPOND)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=60, help="tunes per model (default 60)")
    parser.add_argument("--seeds", type=int, default=3, help="engine runs per tune (default 3)")
    args = parser.parse_args()
    seeds, shipped = list(range(args.seeds)), (modes.REPEAT, modes.LEAP)
    worst = {pair: 0.0 for pair in itertools.product(REPEATS, LEAPS)}  # the larger distance of the two models
    for name in DATA:
        model, tunes = tuning_tunes(name, args.tunes)
        print(f"{name}: {len(tunes)} held-out tunes outside its report, {len(seeds)} seeds")
        print("  REPEAT LEAP  distance  " + " ".join(f"{b[9:]:>7}" for b in BANDS) + "   in key  tonic end  on beat")
        for pair in worst:
            modes.REPEAT, modes.LEAP = pair
            sides = measure(model, tunes, "respond", seeds)
            jamd, real = sides["jamd"], sides["real"]
            distance = sum(abs(jamd[b].value - real[b].value) for b in BANDS) / 2
            ok = met(jamd)
            worst[pair] = max(worst[pair], distance) if ok else float("inf")
            beat = min(jamd["starts_on_beat_legato"].value, jamd["starts_on_beat_detached"].value)
            print(f"  {pair[0]:6.1f} {pair[1]:4.1f}  {distance:8.3f}  " + " ".join(f"{jamd[b].value:7.1%}" for b in BANDS)
                  + f"   {jamd['in_key'].value:6.1%}  {jamd['ends_on_tonic_triad'].value:9.1%}  {beat:7.1%}"
                  + ("" if ok else "  (a target missed)"), flush=True)
        print("  real          " + " " * 8 + " ".join(f"{real[b].value:7.1%}" for b in BANDS))
    chosen = min(worst, key=worst.get)
    print(f"chosen: REPEAT = {chosen[0]}, LEAP = {chosen[1]} (distance {worst[chosen]:.3f} on the model it fits worse; "
          f"shipped REPEAT = {shipped[0]}, LEAP = {shipped[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
