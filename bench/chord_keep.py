"""Choose chords mode's hysteresis (``daemon/accompany.py`` KEEP_BAR, KEEP_BEAT) on held-out tunes.

The tunes: the chords model's held-out Nottingham tunes that the README's audition report does
not use (the report takes the first 40 of the seed-0 draw; these are the rest), so the report
measures the choice on tunes it was not made on. The model hears only the melody, so its
probabilities on each beat do not depend on the hysteresis: each tune goes through the engine
once, the probabilities are kept, and every (keep_bar, keep_beat) pair is replayed on them.
Prints the audition's chord figures per pair and the pair chosen: the best per-beat agreement
with the chord track among pairs whose chord changes per bar are within 0.7-1.3x the track's.

    .venv/bin/python bench/chord_keep.py [--model nottingham-chords] [--data ../shared/data/nottingham/MIDI]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from daemon import accompany  # noqa: E402
from daemon.chords import choose, identify, voicing  # noqa: E402
from daemon.model import load_model  # noqa: E402
from training import playalong  # noqa: E402
from training.tunes import pick  # noqa: E402

KEEP_BARS = (0.3, 0.5, 0.7, 0.85, 1.0)
KEEP_BEATS = (0.1, 0.2, 0.3, 0.5)
REPORT_TUNES = 40


def record(model, tune) -> tuple[list, list]:
    """(step, on a bar line, probabilities) of each beat the chords behaviour decides; probabilities
    None on a step where it is quiet (before the player's first note, after a bar of silence).
    Twice: as decided before the beat, and as it could be half a step after it, when the note
    struck on the beat has been fed (the model then scores the step after the beat)."""
    seen, late = [], []
    original = accompany.Chords.decide

    def decide(self, step, hub):
        bar = hub.config.beats_per_bar
        quiet = not hub.player.notes or hub.player.silent_steps >= hub.clock.steps_per_beat * bar
        if quiet:
            seen.append((step, False, None))
        elif hub.clock.is_beat(step):
            seen.append((step, hub.clock.is_bar(step, bar), hub.probabilities()))
        if quiet:
            late.append((step - 1, False, None))
        elif hub.clock.is_beat(step - 1):
            late.append((step - 1, hub.clock.is_bar(step - 1, bar), hub.probabilities()))
        return original(self, step, hub)

    accompany.Chords.decide = decide
    try:
        playalong.play(model, tune, tune.notes, "chords", 0, len(tune.chords) + tune.metre.bar)
    finally:
        accompany.Chords.decide = original
    return seen, late


def replay(seen, outputs, beats: int, steps_per_beat: int, keep_bar: float, keep_beat: float) -> list[str]:
    """The chord sounding on each quarter-note beat for one hysteresis pair."""
    names = [identify(voicing(o)) for o in outputs]
    chords, current, i = [], None, 0
    for beat in range(beats):
        while i < len(seen) and seen[i][0] <= beat * steps_per_beat:
            _, on_bar, probs = seen[i]
            current = None if probs is None else choose(probs, current, 0.0, None, keep_bar if on_bar else keep_beat)
            i += 1
        chords.append("N" if current is None else names[current])
    return chords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="nottingham-chords")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "nottingham" / "MIDI"))
    args = parser.parse_args()
    model = load_model(args.model)
    validation = model.sidecar.training.get("validation_songs")
    tunes, _ = pick([args.data], validation, 10_000, 0, pairs=True)
    report = {t.name for t in tunes[:REPORT_TUNES]}
    tuning = [t for t in tunes if t.name not in report]
    print(f"{len(tuning)} held-out tunes outside the report's {len(report)}")
    recorded = [(t, record(model, t)) for t in tuning]
    for when, index in (("before the beat (as jamd plays)", 0), ("half a step after the beat", 1)):
        print(f"\nchords decided {when}")
        choose_keep([(t, r[index]) for t, r in recorded], model)


def choose_keep(recorded, model) -> None:
    sides = {}
    for keep_bar in KEEP_BARS:
        for keep_beat in KEEP_BEATS:
            jamd, real = playalong.Tally(), playalong.Tally()
            for tune, seen in recorded:
                chords = replay(seen, model.sidecar.outputs, len(tune.chords), model.steps_per_beat, keep_bar, keep_beat)
                playalong._progression(jamd, chords, tune)
                playalong._progression(real, tune.chords, tune, against_track=False)
            sides[keep_bar, keep_beat] = jamd, real
    print("keep_bar keep_beat | changes/bar (x real) | on bar lines | agreement | tunes on <= 2 chords")
    for (keep_bar, keep_beat), (jamd, real) in sides.items():
        ratio = jamd["changes_per_bar"].value / real["changes_per_bar"].value
        print(f"{keep_bar:8.2f} {keep_beat:9.2f} | {jamd['changes_per_bar'].value:.2f} ({ratio:.2f}x) | "
              f"{jamd['changes_on_bar_lines'].value:.0%} | {jamd['chord_agreement'].value:.1%} | "
              f"{jamd['two_chords_or_fewer'].hits:.0f} of {jamd['two_chords_or_fewer'].total:.0f}")
    fitting = {k: v for k, v in sides.items()
               if 0.7 <= v[0]["changes_per_bar"].value / v[1]["changes_per_bar"].value <= 1.3} or sides
    best = max(fitting, key=lambda k: fitting[k][0]["chord_agreement"].value)
    print(f"chosen: KEEP_BAR = {best[0]}, KEEP_BEAT = {best[1]}")


if __name__ == "__main__":
    main()
