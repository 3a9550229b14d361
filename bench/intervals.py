"""Choose how jamd's lines move (``daemon/modes.py``): respond's ``REPEAT`` and ``LEAP``, duet's ``LINE``.

- respond: an answer's next note weighs ``REPEAT`` if it repeats the note just played and ``LEAP``
  if it lies more than a fifth from it. Without them `nottingham`'s answers leapt about (9% of
  intervals larger than a fifth, against its tunes' 3%); too much of either and they only step.
- duet: the second voice's pitch classes weigh ``LINE`` = (repeat, skip, leap) by their interval
  from its last note, a step weighing 1. Without it the line leapt (a quarter of its intervals
  5-7 semitones, against a tenth in the tunes), steering toward consonance with the player.

Measured on held-out tunes no report plays (as ``bench/next_due.py``: each model's own held-out
tunes outside the 40 a report on them plays; `folk`'s main report plays the unheard essenFolksong
regions, which choose nothing). For each setting it prints jamd's interval profile and its
distance from the tunes' own (total variation over repeat, step, skip, leap, larger; duet's
reference is the player's line, the tune), with the mode's other figures, and the setting chosen:
every target of the mode in issue 13 met on both models, then the smallest distance on the model
it fits worse.

    .venv/bin/python bench/intervals.py --mode respond|duet [--tunes 60] [--seeds 3]
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

BANDS = ("interval_repeat", "interval_step", "interval_skip", "interval_leap", "interval_large")
GRIDS = {  # the settings tried: respond (REPEAT, LEAP), duet LINE (repeat, skip, leap)
    "respond": list(itertools.product((0.3, 0.6, 1.0), (1.0, 0.5, 0.3, 0.2))),
    "duet": list(itertools.product((1.0, 0.3, 0.2, 0.1, 0.05), (1.0, 0.3, 0.2, 0.1, 0.05), (1.0, 0.1, 0.05, 0.02))),
}
SHOWN = {"respond": ("in_key", "ends_on_tonic_triad", "starts_on_beat_legato", "starts_on_beat_detached"),
         "duet": ("in_key", "dissonant_at_onsets", "dissonant_on_beats")}


def apply(mode: str, setting: tuple) -> None:
    if mode == "respond":
        modes.REPEAT, modes.LEAP = setting
    else:
        modes.LINE = setting


def shipped(mode: str) -> tuple:
    return (modes.REPEAT, modes.LEAP) if mode == "respond" else modes.LINE


def met(mode: str, jamd) -> bool:
    """Whether ``jamd``'s figures meet every target of ``mode`` (``training/report.TARGETS``)."""
    return all(_met(target, jamd[key.split()[1]].value, None)
               for key, target in TARGETS.items() if key.startswith(f"{mode} "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=tuple(GRIDS), required=True, help="the mode whose line to tune")
    parser.add_argument("--tunes", type=int, default=60, help="tunes per model (default 60)")
    parser.add_argument("--seeds", type=int, default=3, help="engine runs per tune (default 3)")
    args = parser.parse_args()
    mode, seeds, before = args.mode, list(range(args.seeds)), shipped(args.mode)
    worst = {setting: 0.0 for setting in GRIDS[mode]}  # the larger distance of the two models
    for name in DATA:
        model, tunes = tuning_tunes(name, args.tunes)
        print(f"{name}: {len(tunes)} held-out tunes outside its report, {len(seeds)} seeds")
        print(f"  {'setting':>16}  distance  " + " ".join(f"{b[9:]:>7}" for b in BANDS) + "   "
              + "  ".join(SHOWN[mode]))
        for setting in worst:
            apply(mode, setting)
            sides = measure(model, tunes, mode, seeds)
            jamd, real = sides["jamd"], sides["real"]
            distance = sum(abs(jamd[b].value - real[b].value) for b in BANDS) / 2
            ok = met(mode, jamd)
            worst[setting] = max(worst[setting], distance) if ok else float("inf")
            print(f"  {' '.join(f'{v:4.2f}' for v in setting):>16}  {distance:8.3f}  "
                  + " ".join(f"{jamd[b].value:7.1%}" for b in BANDS) + "   "
                  + "  ".join(f"{jamd[f].value:{len(f)}.1%}" for f in SHOWN[mode])
                  + ("" if ok else "  (a target missed)"), flush=True)
        print(f"  {'real':>16}  {'':8}  " + " ".join(f"{real[b].value:7.1%}" for b in BANDS))
    apply(mode, before)
    chosen = min(worst, key=worst.get)
    print(f"chosen: {chosen} (distance {worst[chosen]:.3f} on the model it fits worse; shipped {before})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
