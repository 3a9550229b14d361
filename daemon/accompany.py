"""chords mode's behaviour (``daemon/modes.py`` has the interface): a chord on the beats, voiced by
``daemon.chords``, changed where a tune changes chords.

The chords model scores the chord of the next beat from the melody heard before it. The
likeliest chord is taken, not a sampled one (a sampled accompaniment wanders out of the key),
and the chord sounding stays unless the new one is ``1/keep`` times likelier: on a bar line,
where folk tunes change chords, ``KEEP_BAR``; on the other beats ``KEEP_BEAT``, so a chord that
would flicker between two near-equal choices changes on the bar instead. Both were chosen on
held-out Nottingham tunes with ``jamd-train audition --mode chords`` (README "Musicianship").
"""

from __future__ import annotations

from daemon import chords as chordlib
from daemon.modes import RELEASE, Behaviour

KEEP_BAR = 0.5
KEEP_BEAT = 0.5


class Chords(Behaviour):
    def __init__(self, keep_bar: float = KEEP_BAR, keep_beat: float = KEEP_BEAT) -> None:
        self.keep_bar, self.keep_beat = keep_bar, keep_beat
        self.chord: int | None = None  # id of the chord sounding (or starting)

    def stop(self) -> None:
        self.chord = None

    def decide(self, step: int, hub) -> tuple[int, ...] | None:
        clock, bar = hub.clock, hub.config.beats_per_bar
        # Nothing to accompany before the player's first note or after a bar of their silence.
        if not hub.player.notes or hub.player.silent_steps >= clock.steps_per_beat * bar:
            if self.chord is not None:
                self.chord = None
                return RELEASE
            return None
        if not clock.is_beat(step):
            return None
        keep = self.keep_bar if clock.is_bar(step, bar) else self.keep_beat
        chord = chordlib.choose(hub.probabilities(), self.chord, 0.0, None, keep)
        if chord == self.chord:
            return None
        self.chord = chord
        return chordlib.voicing(hub.outputs[chord])
