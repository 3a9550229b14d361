"""Choose chords mode's hysteresis (``daemon/accompany.py`` KEEP_BAR, KEEP_BEAT) on held-out tunes.

The tunes: the chords model's held-out Nottingham tunes that the README's audition report does
not use (the report takes the first 40 of the seed-0 draw; these are the rest), so the report
measures the choice on tunes it was not made on. The model hears only the melody, so its
probabilities on each beat do not depend on the choice: each tune goes through the engine once,
the probabilities are kept, and every (keep_bar, keep_beat) pair is replayed on them with the
behaviour's own ``fit`` and ``chords.choose``. Prints the audition's chord figures per pair, the
pair chosen (the most of issue 13's chord targets met, then the best per-beat agreement with the
chord track), and at that pair what the melody fit and the wait for the note on the beat add.

    .venv/bin/python bench/chord_keep.py [--model nottingham-chords] [--data ../shared/data/nottingham/MIDI]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jamd.daemon import accompany  # noqa: E402
from jamd.daemon.chords import choose, identify, voicing  # noqa: E402
from jamd.daemon.model import load_model  # noqa: E402
from jamd.training import playalong  # noqa: E402
from jamd.training.tunes import pick  # noqa: E402

KEEP_BARS = (0.3, 0.5, 0.7, 0.85, 1.0)
KEEP_BEATS = (0.1, 0.2, 0.3, 0.5)
REPORT_TUNES = 40


def record(model, tune) -> list:
    """(step, on a bar line, probabilities) of each beat the chords behaviour decides, as the
    engine computes them before the beat; probabilities None on a step where it is quiet
    (before the player's first note, after a bar of silence)."""
    seen = []
    original = accompany.Chords.decide

    def decide(self, step, hub):
        bar = hub.config.beats_per_bar
        quiet = not hub.player.notes or hub.player.silent_steps >= hub.clock.steps_per_beat * bar
        if quiet:
            seen.append((step, False, None))
        elif hub.clock.is_beat(step):
            seen.append((step, hub.clock.is_bar(step, bar), hub.probabilities()))
        return original(self, step, hub)

    accompany.Chords.decide = decide
    try:
        playalong.play(model, tune, tune.notes, "chords", 0, len(tune.chords) + tune.metre.bar)
    finally:
        accompany.Chords.decide = original
    return seen


def replay(seen, tune, outputs, steps_per_beat: int, keep_bar: float, keep_beat: float,
           melody: bool = True, wait: bool = True) -> list[str]:
    """The chord sounding on each quarter-note beat of ``tune``; ``melody``: weighed by the fit to the
    melody of the beat before; ``wait``: and to the note struck on the beat."""
    names = [identify(voicing(o)) for o in outputs]
    tones = accompany.chord_tones(outputs)
    onsets = [(round(n.start * steps_per_beat), n.pitch) for n in tune.notes]
    chords, current, i = [], None, 0
    for beat in range(len(tune.chords)):
        while i < len(seen) and seen[i][0] <= beat * steps_per_beat:
            step, on_bar, probs = seen[i]
            if probs is None:
                current = None
            else:
                if melody:
                    before = [p for s, p in onsets if step - steps_per_beat <= s < step]
                    struck = [p for s, p in onsets if s == step] if wait else []
                    probs = accompany.fit(probs, tones, accompany.melody(before, struck))
                current = choose(probs, current, 0.0, None, keep_bar if on_bar else keep_beat)
            i += 1
        chords.append("N" if current is None else names[current])
    return chords


def figures(recorded, model, **how) -> dict:
    jamd, real = playalong.Tally(), playalong.Tally()
    for tune, seen in recorded:
        playalong._progression(jamd, replay(seen, tune, model.sidecar.outputs, model.steps_per_beat, **how), tune)
        playalong._progression(real, tune.chords, tune, against_track=False)
    ratio = jamd["changes_per_bar"].value / real["changes_per_bar"].value
    few = jamd["two_chords_or_fewer"]
    met = (0.7 <= ratio <= 1.3) + (jamd["changes_on_bar_lines"].value >= 0.55) \
        + (jamd["chord_agreement"].value >= 0.58) + (few.hits <= 0.05 * few.total)
    return {"ratio": ratio, "changes": jamd["changes_per_bar"].value, "on_bars": jamd["changes_on_bar_lines"].value,
            "agreement": jamd["chord_agreement"].value, "few": f"{few.hits:.0f} of {few.total:.0f}", "met": met}


def line(label: str, f: dict) -> str:
    return (f"{label} | {f['changes']:.2f} ({f['ratio']:.2f}x) | {f['on_bars']:.0%} | {f['agreement']:.1%} | "
            f"{f['few']} | {f['met']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="nottingham-chords")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "nottingham" / "MIDI"))
    args = parser.parse_args()
    model = load_model(args.model)
    validation = model.sidecar.training.get("validation_songs")
    tunes, _ = pick([args.data], validation, 10_000, 0, pairs=True)
    report = {t.name for t in tunes[:REPORT_TUNES]}
    recorded = [(t, record(model, t)) for t in tunes if t.name not in report]
    print(f"{len(recorded)} held-out tunes outside the report's {len(report)}")
    print("keep_bar keep_beat | changes/bar (x real) | on bar lines | agreement | tunes on <= 2 chords | targets met")
    grid = {}
    for keep_bar in KEEP_BARS:
        for keep_beat in KEEP_BEATS:
            grid[keep_bar, keep_beat] = figures(recorded, model, keep_bar=keep_bar, keep_beat=keep_beat)
            print(line(f"{keep_bar:8.2f} {keep_beat:9.2f}", grid[keep_bar, keep_beat]))
    best = max(grid, key=lambda k: (grid[k]["met"], grid[k]["agreement"]))
    print(f"chosen: KEEP_BAR = {best[0]}, KEEP_BEAT = {best[1]}; there:")
    keep = {"keep_bar": best[0], "keep_beat": best[1]}
    print(line("  model alone, before the beat    ", figures(recorded, model, melody=False, **keep)))
    print(line("  + the melody of the beat before ", figures(recorded, model, wait=False, **keep)))
    print(line("  + the note struck on the beat   ", grid[best]))


if __name__ == "__main__":
    main()
