"""What jamd sends and when: messages waiting for their time, and the notes left sounding.

Notes for a grid step are decided half a step early but held here until their time, so a
player who barges in cancels them before they are ever sent: no note-on can then slip out
after its note-off. Every note-on that goes out is tracked until its note-off goes out.
"""

from __future__ import annotations

import heapq
import itertools
import math

import mido

from jamd.daemon.messages import note_off  # built fast: a barge-in ends notes on the input path

Scheduled = tuple[float, mido.Message]  # (send time in seconds on the caller's clock, message)

VELOCITY_START = 80
VELOCITY_WEIGHT = 0.3  # share of each new player velocity in the running average


class Outbox:
    def __init__(self) -> None:
        self._queue: list[tuple[float, int, int | None, float, mido.Message]] = []
        self._order = itertools.count()  # keeps same-time messages in the order they were added
        self._sounding: set[tuple[int, int]] = set()  # (channel 0-15, note) whose note-on went out

    def at(self, time: float, msg: mido.Message, step: int | None = None, offset: float = 0.0) -> None:
        """Send ``msg`` at ``time + offset`` (seconds). ``step`` lets ``retime`` move it with its grid step."""
        heapq.heappush(self._queue, (time + offset, next(self._order), step, offset, msg))

    def retime(self, step: int, time: float) -> None:
        """Messages of grid ``step`` go at ``time`` (plus their offset): the MIDI clock pulse came."""
        if any(entry[2] == step for entry in self._queue):
            self._queue = [(time + e[3], *e[1:]) if e[2] == step else e for e in self._queue]
            heapq.heapify(self._queue)

    def next_time(self) -> float:
        """When the next waiting message is due (seconds; inf if none)."""
        return self._queue[0][0] if self._queue else math.inf

    def due(self, now: float) -> list[Scheduled]:
        """Pop every message due by ``now``, in time order."""
        out: list[Scheduled] = []
        while self._queue and self._queue[0][0] <= now:
            time, _, _, _, msg = heapq.heappop(self._queue)
            out.extend(self._emit(time, msg))
        return out

    def send_now(self, now: float, msg: mido.Message) -> list[Scheduled]:
        """``msg`` at ``now``, tracked like any other."""
        return self._emit(now, msg)

    def _emit(self, time: float, msg: mido.Message) -> list[Scheduled]:
        if msg.type == "note_on" and msg.velocity > 0:
            key = (msg.channel, msg.note)
            if key in self._sounding:
                # Retrigger: many synths stack a second note-on and leave one hanging.
                return [(time, note_off(*key)), (time, msg)]
            self._sounding.add(key)
        elif msg.type in ("note_off", "note_on"):
            key = (msg.channel, msg.note)
            if key not in self._sounding:
                return []  # its note-on was cancelled or already ended
            self._sounding.discard(key)
        return [(time, msg)]

    def sounding(self, channel: int | None = None) -> set[tuple[int, int]]:
        """Notes whose note-on went out and note-off did not, as (channel 0-15, note)."""
        return {k for k in self._sounding if channel is None or k[0] == channel}

    def busy(self, channel: int) -> bool:
        """True if a note of ``channel`` sounds or waits to go out (one call: it is on the input path)."""
        for key in self._sounding:
            if key[0] == channel:
                return True
        for entry in self._queue:
            if entry[4].type == "note_on" and entry[4].channel == channel:
                return True
        return False

    def cancel(self, channel: int, now: float) -> list[Scheduled]:
        """Drop ``channel``'s waiting notes and end its sounding ones at ``now``.

        A barge-in runs this on the input path, on cold caches, where every call and every
        generator costs 5-20 us: plain loops, in this one frame.
        """
        if self._queue:
            kept = []
            for entry in self._queue:
                msg = entry[4]
                if msg.type not in ("note_on", "note_off") or msg.channel != channel:
                    kept.append(entry)
            heapq.heapify(kept)
            self._queue = kept
        ended = []
        for key in self._sounding:
            if key[0] == channel:
                ended.append(key)
        ended.sort()
        self._sounding.difference_update(ended)
        out = []
        for c, n in ended:
            out.append((now, note_off(c, n)))
        return out

    def release(self, channel: int, time: float, step: int | None = None) -> None:
        """Note-offs at ``time`` for ``channel``'s notes sounding or waiting by then."""
        notes = {n for c, n in self._sounding if c == channel}
        notes |= {e[4].note for e in self._queue if e[4].type == "note_on" and e[4].channel == channel}
        for note in sorted(notes):
            self.at(time, note_off(channel, note), step)

    def clear(self, now: float) -> list[Scheduled]:
        """Drop everything waiting and end every sounding note at ``now``."""
        self._queue.clear()
        return self._end(now, set(self._sounding))

    def _end(self, now: float, keys: set[tuple[int, int]]) -> list[Scheduled]:
        self._sounding -= keys
        return [(now, note_off(c, n)) for c, n in sorted(keys)]


class VelocityFollower:
    """jamd's velocity: a running average of the player's note-on velocities (1-127)."""

    def __init__(self) -> None:
        self.value = float(VELOCITY_START)

    def hear(self, velocity: int) -> None:
        self.value += VELOCITY_WEIGHT * (velocity - self.value)

    @property
    def velocity(self) -> int:
        return max(1, min(127, round(self.value)))
