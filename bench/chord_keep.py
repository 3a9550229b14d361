"""Choose chords mode's settings (``daemon/accompany.py``: KEEP_BAR, KEEP_HALF, KEEP_BEAT, and the
melody fit's BEAT_WEIGHT, MISS, SHARPNESS) on held-out tunes.

The tunes: the chords model's held-out Nottingham tunes that the README's audition report does
not use (the report takes the first 40 of the seed-0 draw; these are the rest), so the report
measures the choice on tunes it was not made on. The model hears only the melody, so its
probabilities on each beat do not depend on the choice: each tune goes through the engine once,
the probabilities are kept, and every setting is replayed on them with the behaviour's own ``fit``
and ``chords.choose``. Prints the audition's chord figures for each set of keeps at the best
melody fit, the best of each melody fit, the setting chosen (the most of issue 13's chord
targets met, then the widest margin on the target it comes closest to missing), and there what the melody fit
and the wait for the note on the beat add.

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

KEEP_BARS = (0.5, 0.7, 1.0)
KEEP_HALVES = (0.2, 0.3, 0.5, 0.7, 1.0)
KEEP_BEATS = (0.02, 0.05, 0.1, 0.2, 0.5)
BEAT_WEIGHTS = (4.0, 8.0, 16.0, 32.0)
MISSES = (0.3, 0.6, 1.0, 2.0)
SHARPNESSES = (2.0, 4.0, 6.0)
REPORT_TUNES = 40


def record(model, tune) -> list:
    """(step, beat in the bar, probabilities) of each beat the chords behaviour decides, as the
    engine computes them before the beat; probabilities None on a step where it is quiet
    (before the player's first note, after a bar of silence)."""
    seen = []
    original = accompany.Chords.decide

    def decide(self, step, hub):
        bar = hub.config.beats_per_bar
        quiet = not hub.player.notes or hub.player.silent_steps >= hub.clock.steps_per_beat * bar
        if quiet:
            seen.append((step, 0, None))
        elif hub.clock.is_beat(step):
            seen.append((step, hub.clock.beat_in_bar(step, bar), hub.probabilities()))
        return original(self, step, hub)

    accompany.Chords.decide = decide
    try:
        playalong.play(model, tune, tune.notes, "chords", 0, len(tune.chords) + tune.metre.bar)
    finally:
        accompany.Chords.decide = original
    return seen


def weighed(seen, tune, tones, steps_per_beat: int, melody: bool = True, wait: bool = True,
            beat_weight: float = accompany.BEAT_WEIGHT, miss: float = accompany.MISS,
            sharpness: float = accompany.SHARPNESS) -> list:
    """``seen`` with each beat's probabilities weighed by the fit to the melody of the beat before
    (``melody``) and to the note struck on the beat (``wait``), as the behaviour weighs them."""
    onsets = [(round(n.start * steps_per_beat), n.pitch) for n in tune.notes]
    out = []
    for step, beat, probs in seen:
        if probs is not None and melody:
            before = [p for s, p in onsets if step - steps_per_beat <= s < step]
            struck = [p for s, p in onsets if s == step] if wait else []
            probs = accompany.fit(probs, tones, accompany.melody(before, struck, beat_weight), miss, sharpness)
        out.append((step, beat, probs))
    return out


def replay(seen, tune, names, steps_per_beat: int, keeps: tuple[float, float, float]) -> list[str]:
    """The chord sounding on each quarter-note beat of ``tune``, from the (weighed) ``seen``."""
    bar = int(tune.metre.bar)
    chords, current, i = [], None, 0
    for beat in range(len(tune.chords)):
        while i < len(seen) and seen[i][0] <= beat * steps_per_beat:
            _, in_bar, probs = seen[i]
            current = None if probs is None else choose(probs, current, 0.0, None, accompany.keep(in_bar, bar, *keeps))
            i += 1
        chords.append("N" if current is None else names[current])
    return chords


class Figures:
    """The audition's chord figures of a chords setting on the recorded tunes; the track's own once."""

    def __init__(self, recorded, model) -> None:
        self.recorded, self.model = recorded, model
        self.names = [identify(voicing(o)) for o in model.sidecar.outputs]
        self.tones = accompany.chord_tones(model.sidecar.outputs)
        self.real = playalong.Tally()
        for tune, _ in recorded:
            playalong._progression(self.real, tune.chords, tune, against_track=False)

    def weigh(self, **fit) -> list:
        return [weighed(seen, tune, self.tones, self.model.steps_per_beat, **fit) for tune, seen in self.recorded]

    def __call__(self, weighed_seen, keeps, signature: str | None = None) -> dict:
        """Figures of ``keeps`` on every recorded tune, or on those in time ``signature`` only."""
        jamd, real = playalong.Tally(), self.real
        chosen = [i for i, (t, _) in enumerate(self.recorded) if signature in (None, t.metre.signature)]
        if signature is not None:
            real = playalong.Tally()
            for i in chosen:
                playalong._progression(real, self.recorded[i][0].chords, self.recorded[i][0], against_track=False)
        for i in chosen:
            tune = self.recorded[i][0]
            playalong._progression(jamd, replay(weighed_seen[i], tune, self.names, self.model.steps_per_beat, keeps),
                                   tune)
        ratio = jamd["changes_per_bar"].value / real["changes_per_bar"].value
        few = jamd["two_chords_or_fewer"]
        margins = (min(ratio - 0.7, 1.3 - ratio), jamd["changes_on_bar_lines"].value - 0.55,
                   jamd["chord_agreement"].value - 0.58, 0.05 - few.hits / few.total)
        return {"met": sum(m >= 0 for m in margins), "margin": min(margins), "ratio": ratio,
                "changes": jamd["changes_per_bar"].value,
                "on_bars": jamd["changes_on_bar_lines"].value, "agreement": jamd["chord_agreement"].value,
                "few": f"{few.hits:.0f} of {few.total:.0f}"}


def line(label: str, f: dict) -> str:
    return (f"{label} | {f['changes']:.2f} ({f['ratio']:.2f}x) | {f['on_bars']:.0%} | {f['agreement']:.1%} | "
            f"{f['few']} | {f['met']} ({f['margin']:+.3f})")


HEADER = "| changes/bar (x real) | on bar lines | agreement | tunes on <= 2 chords | targets met (closest margin)"


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
    figures = Figures(recorded, model)
    fits = [dict(beat_weight=w, miss=m, sharpness=p) for w in BEAT_WEIGHTS for m in MISSES for p in SHARPNESSES]
    all_keeps = [(b, h, w) for b in KEEP_BARS for h in KEEP_HALVES for w in KEEP_BEATS]
    grid = {}
    for i, fit in enumerate(fits):
        seen = figures.weigh(**fit)
        for keeps in all_keeps:
            grid[i, keeps] = figures(seen, keeps)
    # Every target met, then the widest margin on the closest one: a setting that only just meets
    # one on these tunes misses it on others (the first choice, by agreement alone, had 56% of
    # changes on bar lines here and 53% on the report's tunes).
    rank = lambda k: (grid[k]["met"], grid[k]["margin"])  # noqa: E731
    best = max(grid, key=rank)
    fit, keeps = fits[best[0]], best[1]
    print("beat_weight miss sharpness, its best keep_bar keep_half keep_beat " + HEADER)
    for i, each in enumerate(fits):
        top = max((k for k in grid if k[0] == i), key=rank)
        print(line(f"{each['beat_weight']:5.1f} {each['miss']:4.1f} {each['sharpness']:4.1f}, "
                   + " ".join(f"{k:4.2f}" for k in top[1]), grid[top]))
    print(f"\nat BEAT_WEIGHT = {fit['beat_weight']}, MISS = {fit['miss']}, SHARPNESS = {fit['sharpness']}:")
    print("keep_bar keep_half keep_beat " + HEADER)
    for each in all_keeps:
        print(line(" ".join(f"{k:4.2f}" for k in each), grid[best[0], each]))
    print(f"chosen: KEEP_BAR = {keeps[0]}, KEEP_HALF = {keeps[1]}, KEEP_BEAT = {keeps[2]}, "
          f"BEAT_WEIGHT = {fit['beat_weight']}, MISS = {fit['miss']}, SHARPNESS = {fit['sharpness']}; there:")
    print(line("  model alone, before the beat    ", figures(figures.weigh(melody=False), keeps)))
    print(line("  + the melody of the beat before ", figures(figures.weigh(wait=False, **fit), keeps)))
    print(line("  + the note struck on the beat   ", grid[best]))
    print("by metre, at the setting chosen:")
    seen = figures.weigh(**fit)
    for signature in sorted({tune.metre.signature for tune, _ in recorded}):
        count = sum(tune.metre.signature == signature for tune, _ in recorded)
        print(line(f"  {signature} ({count} tunes)".ljust(34), figures(seen, keeps, signature)))


if __name__ == "__main__":
    main()
