"""The bar phase of every grid step: where the bar lines fall, shared by training and the daemon.

A model of contract ``jamd-model/2`` is told, with each token it is fed, the metrical position
of the step it predicts next (the step after the token's own): ``bar_step``, that step's index
in its bar (0 = the downbeat), and ``bar_steps``, the length of that bar in grid steps (16 for
4/4 in 16ths, 12 for 3/4 and 6/8, 8 for 2/4). ``start`` is fed with the position of the song's
first step, so a model knows from the outset whether the tune begins with a pickup.

The next step rather than the fed one: what the model must decide is what starts on the step
to come, and on a downbeat a melody moves, a chord changes, an answer begins.

A song's metre is its bars, each ``Bar(start, length)`` in grid steps from the song's beat 0.
A pickup is a bar that starts before beat 0 (a one-beat pickup in 3/4 at 4 steps a beat:
``Bar(-8, 12)``); an irregular bar (Essen's mixed meters) has its own length; the last bar may
run past the song's end. Bars are contiguous and in order.

Pure Python + numpy: imported by ``training/`` and the daemon alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_BAR_STEPS = 96  # 6/2 or 24/16 at 4 steps a beat; a longer "bar" is a phrase mark, not a bar
POSITION_INPUTS = ("bar_step", "bar_steps")  # what a v2 model's extra inputs are filled with


@dataclass(frozen=True)
class Bar:
    """One bar: it begins at grid step ``start`` (may be negative: a pickup) and lasts ``length`` steps."""

    start: int
    length: int


@dataclass(frozen=True)
class TimeSignature:
    """A time signature as written (``3/4``, ``6/8``) from grid step ``at`` on."""

    at: int
    numerator: int
    denominator: int

    @property
    def text(self) -> str:
        return f"{self.numerator}/{self.denominator}"


class MetreError(ValueError):
    """The bar lines cannot be placed on the grid; the message says why."""


GRID_TOLERANCE = 1e-3  # beats: a bar line this close to a grid step is on it


@dataclass(frozen=True)
class Metre:
    """A song's bars and time signatures as its file gives them, in beats (quarter notes) from beat 0.

    ``bars``: (start, length) of each bar; a pickup's bar starts before 0. ``signatures``:
    (beat, numerator, denominator) where each time signature takes effect.
    """

    bars: tuple[tuple[float, float], ...]
    signatures: tuple[tuple[float, int, int], ...] = ()

    @classmethod
    def from_signatures(cls, signatures: Sequence[tuple[float, int, int]], end: float) -> "Metre":
        """Bars laid out from time-signature changes (a MIDI file's way), from beat 0 through ``end``.

        A change that falls inside a bar cuts that bar short there (an irregular bar).
        No signature: 4/4, as the Standard MIDI File specification says.
        """
        signatures = sorted(signatures) or [(0.0, 4, 4)]
        if signatures[0][0] > 0:
            signatures.insert(0, (0.0, 4, 4))
        bars: list[tuple[float, float]] = []
        for i, (at, numerator, denominator) in enumerate(signatures):
            length = numerator * 4 / denominator
            until = signatures[i + 1][0] if i + 1 < len(signatures) else max(end, at + length)
            beat = at
            while beat < until - GRID_TOLERANCE:
                bars.append((beat, min(length, until - beat) if i + 1 < len(signatures) else length))
                beat += length
        return cls(tuple(bars), tuple(signatures))

    def on_grid(self, steps_per_beat: int) -> tuple[list[Bar], list[TimeSignature]]:
        """The bars in grid steps; MetreError if a bar line falls between steps or the bars do not fit."""
        bars = []
        for start, length in self.bars:
            begin, size = start * steps_per_beat, length * steps_per_beat
            if abs(begin - round(begin)) > GRID_TOLERANCE * steps_per_beat or \
                    abs(size - round(size)) > GRID_TOLERANCE * steps_per_beat:
                raise MetreError(f"a bar line at beat {start:g} (bar of {length:g} beats) falls between "
                                 f"the 1/{steps_per_beat}-beat grid steps")
            bars.append(Bar(round(begin), round(size)))
        check_bars(bars)
        signatures = [TimeSignature(round(at * steps_per_beat), n, d) for at, n, d in self.signatures]
        return bars, signatures



def regular_bars(bar_steps: int, first: int, last: int, downbeat: int = 0) -> list[Bar]:
    """Bars of ``bar_steps`` with a downbeat on step ``downbeat``, covering steps ``first``..``last``-1."""
    if not 1 <= bar_steps <= MAX_BAR_STEPS:
        raise MetreError(f"a bar of {bar_steps} grid steps (expected 1 to {MAX_BAR_STEPS})")
    start = downbeat + ((first - downbeat) // bar_steps) * bar_steps
    return [Bar(s, bar_steps) for s in range(start, max(last, first + 1), bar_steps)]


def check_bars(bars: Sequence[Bar]) -> None:
    """MetreError unless ``bars`` are contiguous, in order, and each 1..MAX_BAR_STEPS long."""
    if not bars:
        raise MetreError("no bar lines")
    for bar in bars:
        if not 1 <= bar.length <= MAX_BAR_STEPS:
            raise MetreError(f"a bar of {bar.length} grid steps at step {bar.start} "
                             f"(longer than {MAX_BAR_STEPS}: bar lines that mark phrases, not bars)")
    for a, b in zip(bars, bars[1:]):
        if b.start != a.start + a.length:
            raise MetreError(f"bar at step {b.start} does not follow the bar at step {a.start} "
                             f"({a.length} steps long)")


def positions(bars: Sequence[Bar], first: int, count: int) -> np.ndarray:
    """``[count, 2]`` int32: (bar_step, bar_steps) of grid steps ``first`` .. ``first + count - 1``.

    Steps before the first bar or after the last are placed by extending those bars' lengths.
    """
    steps = np.arange(first, first + count)
    starts = np.asarray([b.start for b in bars])
    lengths = np.asarray([b.length for b in bars])
    index = np.clip(np.searchsorted(starts, steps, side="right") - 1, 0, len(bars) - 1)
    offset = steps - starts[index]
    length = lengths[index]
    return np.stack([offset % length, length], axis=1).astype(np.int32)


def token_positions(bars: Sequence[Bar], first: int, tokens: int) -> np.ndarray:
    """Positions to feed with each of ``tokens`` tokens (``start`` + one per step from step ``first``).

    Token ``i`` is fed with the position of step ``first + i``: ``start`` with the first step's,
    each step's token with the next step's (module docstring).
    """
    return positions(bars, first, tokens)
