"""Where the bar begins when nobody says: the bar phase under which the model finds a phrase likeliest.

A player who plays freely on jamd's internal clock gives no Start, no Song Position Pointer and no
count-off. The grid starts on their first note, which is a downbeat only if the tune has no pickup.
A model told the bar position (``jamd-model/2``) has learnt where notes fall in the bar, so the
phrase's tokens are likelier under the right phase than under a wrong one. ``likeliest_origin``
replays the phrase from a fresh state once per candidate downbeat (every eighth of the bar: a pickup
is often an eighth or a dotted quarter, so beats alone would miss it) and keeps the best; the engine
asks one beat into each pause, so the phase is revised phrase by phrase. On 150 of the folk model's
held-out songs, the first 8 beats played freely: the downbeat found 73% of the time with eighths as
candidates, 54% with beats, 18% taking the first note (``bench/bar_phase.py``).

Cost: candidates x phrase steps model steps (8 eighths x 33 steps in 4/4, about 15 ms here), once
per pause, never on the input path.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from jamd.daemon.encoding import START_ID

MAX_PHRASE_STEPS = 32  # the last 2 bars of 4/4 at most: enough to hear the metre, cheap to replay


def phrase_logp(model, ids: Sequence[int], first: int, origin: int, bar_steps: int) -> float:
    """log p(ids) (nats) from a fresh state with bar 1 on grid step ``origin``; ``ids[0]`` is on step ``first``.

    Leaves the model in the state after the phrase.
    """
    model.reset()
    probs = model.step(START_ID, (first - origin) % bar_steps, bar_steps)
    total = 0.0
    for i, token in enumerate(ids):
        total += math.log(max(float(probs[token]), 1e-12))
        probs = model.step(token, (first + i + 1 - origin) % bar_steps, bar_steps)
    return total


def likeliest_origin(model, ids: Sequence[int], first: int, bar_steps: int, resolution: int,
                     current: int) -> tuple[int, dict[int, float]]:
    """(origin, log-likelihood per candidate origin): the downbeat step (mod ``bar_steps``) under which
    the phrase ``ids`` (its first token on grid step ``first``) is likeliest. Candidates are every
    ``resolution`` steps of the bar counted from ``current``; ties keep ``current``. The model ends in
    the state of the phrase replayed under the winner, ready to continue it.
    """
    scores = {}
    for beat in range(0, bar_steps, resolution):
        origin = (current + beat) % bar_steps
        scores[origin] = phrase_logp(model, ids, first, origin, bar_steps)
    best = max(scores, key=lambda o: (scores[o], o == current % bar_steps))
    phrase_logp(model, ids, first, best, bar_steps)
    return best, scores


class PhraseBuffer:
    """The token ids of the phrase being played, with the grid step of the first, in a fixed array."""

    def __init__(self, size: int = MAX_PHRASE_STEPS):
        self.ids = np.zeros(size, np.int64)
        self.count = 0
        self.first = 0  # grid step of ids[0]
        self._start = 0  # ring start

    def clear(self) -> None:
        self.count = 0

    def add(self, step: int, token: int) -> None:
        """Token ``token`` was fed for grid ``step`` (steps arrive in order); the oldest drop off when full."""
        size = len(self.ids)
        if self.count == 0:
            self.first, self._start = step, 0
        if self.count < size:
            self.ids[(self._start + self.count) % size] = token
            self.count += 1
        else:
            self.ids[self._start] = token
            self._start = (self._start + 1) % size
            self.first += 1

    def tokens(self) -> list[int]:
        size = len(self.ids)
        return [int(self.ids[(self._start + i) % size]) for i in range(self.count)]
