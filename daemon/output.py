"""jamd's output boundary: MIDI sent at its time, and the channels jamd's notes went out on.

The notes jamd has sounding have one owner, the engine's ``voice.Outbox``: whatever stops jamd
(SIGTERM, SIGINT, a lost port, a mode or model switch) sends ``Engine.silence``'s note-offs
through ``Output.flush``, then sustain off and all notes off on every channel a note went out on. ``Samples``
keeps the timings (seconds) the service reports as median and p99.
"""

from __future__ import annotations

import array
import heapq
import itertools
import math
import time
from typing import Callable

import mido
import numpy as np

from jamd.daemon.messages import to_bytes
from jamd.daemon.voice import Scheduled

EARLY = 0.0002  # send a message this close to its time now: a sleep cannot be shorter anyway


class Samples:
    """The last ``size`` durations in seconds, for median and p99 without unbounded memory."""

    def __init__(self, size: int = 1 << 16):
        # array, not numpy: storing one float is a plain C store, and add() runs on the input path
        self._values = array.array("d", bytes(8 * size))
        self.count = 0

    def add(self, seconds: float) -> None:
        self._values[self.count % len(self._values)] = seconds
        self.count += 1

    def percentiles(self) -> tuple[float, float]:
        """(median, p99) in seconds; (nan, nan) if empty."""
        if not self.count:
            return math.nan, math.nan
        p50, p99 = np.percentile(np.frombuffer(self._values)[:min(self.count, len(self._values))], [50, 99])
        return float(p50), float(p99)

    def summary(self) -> str:
        if not self.count:
            return "none"
        p50, p99 = self.percentiles()
        return f"median {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms ({self.count} samples)"


class Output:
    """Sends scheduled MIDI at its time and remembers the channels note-ons went out on."""

    def __init__(self, send: Callable[[list[int]], None], clock: Callable[[], float] = time.monotonic):
        self._send, self._clock = send, clock
        self._heap: list = []
        self._order = itertools.count()
        self.channels: set[int] = set()  # channels a note-on went out on since the last flush
        self.timing = Samples()  # actual send time - intended time, seconds
        self.sent = 0

    def schedule(self, items: list[Scheduled], now: float) -> None:
        """Send what is due by ``now`` at once and keep the rest for ``send_due``."""
        for when, msg in items:
            if when <= now + EARLY:
                self._emit(when, msg)
            else:
                heapq.heappush(self._heap, (when, next(self._order), msg))

    def next_time(self) -> float:
        return self._heap[0][0] if self._heap else math.inf

    def send_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now + EARLY:
            when, _, msg = heapq.heappop(self._heap)
            self._emit(when, msg)

    def _emit(self, when: float, msg: mido.Message, measure: bool = True) -> None:
        if msg.type == "note_on" and msg.velocity > 0:
            self.channels.add(msg.channel)
        self._send(to_bytes(msg))
        self.sent += 1
        if measure:
            self.timing.add(self._clock() - when)

    def flush(self, now: float, silence: list[Scheduled], channels: set[int]) -> None:
        """End everything: pending messages dropped, ``silence`` (the engine's note-offs for every
        note it has sounding, ``Engine.silence``) sent now, then sustain off (CC64=0) and all
        notes off (CC123) on ``channels`` and on every channel a note went out on."""
        self._heap = []
        for _, msg in silence:
            if not (msg.type == "note_on" and msg.velocity > 0):
                self._emit(now, msg, measure=False)
        for channel in sorted(channels | self.channels):
            for control in (64, 123):
                self._emit(now, mido.Message("control_change", channel=channel, control=control, value=0),
                           measure=False)
        self.channels = set()

