"""The grid: when each step happens, from the internal tempo, tap tempo or an incoming MIDI clock.

Step ``k`` is centred on its time ``T_k``; a player's note belongs to the step whose centre is
nearest, so step ``k``'s window closes at ``T_k + step/2``. Times are seconds on the caller's
clock; tempo is quarter notes per minute.

MIDI clock is 24 pulses per quarter note. The first pulse after Start is beat 1 of bar 1; after
a Song Position Pointer (a sequencer located to a point in the song) the first pulse after
Continue is that point, so ``origin`` (the step bar 1 began on) follows the song. Stop pauses
the grid until Start or Continue, and in ``auto`` the grid goes back to the internal tempo
if pulses stop arriving while running (a sequencer unplugged, not stopped). Steps begin on the
pulses themselves; the tempo (how long a step's window stays open, what ``auto`` falls back to)
is measured from the last beat of pulse times by ``pulse_line``, so bunched pulses move the
steps they begin but not the tempo.

Stray pulses are not a clock. In ``auto`` a pulse further than ``PULSE_GAP_SECONDS`` from
the one before neither keeps the grid from falling back nor, short of a quarter beat of
pulses in a row, takes it over; and the tempo
``auto`` falls back to is one measured from a beat of steady pulses (``steady``), else jamd's
own: random pulses among a flood of other messages once set a 20-50 bpm grid that never
answered. A player who plays while the clock is stopped and silent gets the internal grid.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Sequence

PPQN = 24
TEMPO_SPAN = PPQN + 1  # pulse times the tempo is measured over: the last beat
TEMPO_MIN_PULSES = PPQN // 4 + 1  # after Start, Continue or a pause: the last tempo until a quarter beat
PULSE_GAP_SECONDS = 0.25  # no pulse for this long (slower than 10 bpm): the sender paused
# A beat of pulses is steady when this share of them lies within STEADY_SECONDS plus half a
# pulse of the line they keep to; up to half a beat may come late (a stall), and the stamps
# may be a JACK period late (1024 frames at 48 kHz: 21 ms).
STEADY_SHARE = 0.6
STEADY_SECONDS = 0.022
STEADY_SPREAD = 0.1  # a beat of steady measures within 10 %: a tempo auto may fall back to
FALLBACK_SECONDS = 2.0  # auto: no pulse for this long while running -> internal clock again
TAP_WINDOW_SECONDS = 2.0  # taps further apart than this start a new count (30 bpm)
TAP_COUNT = 4  # tempo from the mean of the last few tap intervals
TEMPO_RANGE = (20.0, 300.0)
INF = math.inf


class Clock:
    def __init__(self, bpm: float, steps_per_beat: int, source: str = "auto"):
        self.bpm = float(bpm)
        self.steps_per_beat = steps_per_beat
        self.source = source  # internal | midi | auto
        self.following = source == "midi"  # steps come from MIDI clock pulses
        self.running = True  # False between MIDI Stop and Start/Continue
        self.step = 0  # the step whose window is open
        self.origin = 0  # the step on beat 1 (metronome accents count from it)
        self._centre: float | None = None  # internal clock: T of the open step, None until anchored
        self._pulse = -1  # pulses since Start (or since we began following)
        self._base = 0  # the step that pulse 0 begins
        self._pulsed_step = -1
        self._pulsed_time = 0.0
        self._last_pulse: float | None = None
        self._followed = self.bpm  # the tempo measured from the pulses, bpm
        self._pulse_times: deque[float] = deque(maxlen=TEMPO_SPAN)
        self._previous_pulse: float | None = None  # any pulse, steady or stray
        self._run = 0  # pulses in a row, each within PULSE_GAP_SECONDS of the one before
        self._steady: deque[float] = deque(maxlen=PPQN)  # tempos measured from steady beats in a row
        self._trusted: float | None = None  # the last tempo a beat of steady measures agreed on, bpm
        self._taps: list[float] = []
        self._song_position: int | None = None  # Song Position Pointer (16ths) for the next Continue
        self._link: tuple[int, int] | None = None  # Link: (step, session grid line in steps) locked together
        self.tempo_request: tuple[int, float] | None = None  # Link: (count, bpm) jamd asks the session for

    @property
    def tempo(self) -> float:
        """The current tempo in bpm (measured from the last beat of pulses when following MIDI clock)."""
        return self._followed if self.following else self.bpm

    @property
    def ready(self) -> bool:
        """True when there is a running grid to put notes on."""
        return self.running and (not self.following or self._last_pulse is not None)

    @property
    def step_seconds(self) -> float:
        """Length of one grid step in seconds."""
        return 60.0 / (self.tempo * self.steps_per_beat)

    @property
    def anchored(self) -> bool:
        """False until ``anchor`` starts the internal grid (always True when following MIDI clock)."""
        return self.following or self._centre is not None

    def anchor(self, now: float) -> None:
        """Start the internal grid with the open step centred at ``now`` (once; later calls do nothing)."""
        if not self.anchored:
            self._centre = now

    def window_close(self) -> float:
        """When the open step's window closes (seconds; inf while waiting for a pulse or stopped)."""
        if not self.running:
            return INF
        if not self.following:
            return INF if self._centre is None else self._centre + self.step_seconds / 2
        if self.step < self._pulsed_step:
            return self._pulsed_time  # we are behind the pulses: close at once
        if self.step == self._pulsed_step:
            return self._pulsed_time + self.step_seconds / 2
        if self.source == "auto" and self._last_pulse is not None:
            return self._last_pulse + FALLBACK_SECONDS  # wake up to fall back if pulses stop
        return INF

    def step_time(self, k: int) -> float:
        """The centre time of step ``k`` (seconds); inf if it waits for a MIDI clock pulse."""
        if not self.following:
            return INF if self._centre is None else self._centre + (k - self.step) * self.step_seconds
        return self._pulsed_time if k <= self._pulsed_step else INF

    def advance(self) -> None:
        """Close the open window: the next step's window opens."""
        if not self.following and self._centre is not None:
            self._centre += self.step_seconds
        self.step += 1

    def is_beat(self, k: int) -> bool:
        return (k - self.origin) % self.steps_per_beat == 0

    def is_bar(self, k: int, beats_per_bar: int) -> bool:
        return (k - self.origin) % (self.steps_per_beat * beats_per_bar) == 0

    def beat_in_bar(self, k: int, beats_per_bar: int) -> int:
        """The beat step ``k`` falls in, counted from the bar line (0)."""
        return self.position(k, beats_per_bar)[0] // self.steps_per_beat

    def position(self, k: int, beats_per_bar: int) -> tuple[int, int]:
        """(bar_step, bar_steps) of step ``k``: its place in the bar that begins on ``origin`` (daemon/metre.py)."""
        bar_steps = self.steps_per_beat * beats_per_bar
        return (k - self.origin) % bar_steps, bar_steps

    def set_tempo(self, bpm: float) -> None:
        """Internal tempo in bpm, clamped to 20-300; the open step keeps its window."""
        self.bpm = min(max(float(bpm), TEMPO_RANGE[0]), TEMPO_RANGE[1])
        if self.source == "link":  # daemon/link.py reads it on its own thread: one tuple, replaced whole
            self.tempo_request = ((self.tempo_request or (0,))[0] + 1, self.bpm)

    def set_steps_per_beat(self, steps_per_beat: int) -> None:
        """A new model's grid; when following, the next pulse begins a new step."""
        self.steps_per_beat = steps_per_beat
        self._link = None
        if self.following:
            self._pulse, self._base = -1, self.step + 1

    def tap(self, now: float) -> float | None:
        """A tap at ``now``; returns the new internal tempo once two taps are close enough."""
        if self._taps and now - self._taps[-1] > TAP_WINDOW_SECONDS:
            self._taps.clear()
        if self._taps and now <= self._taps[-1]:
            return None
        self._taps = (self._taps + [now])[-(TAP_COUNT + 1):]
        if len(self._taps) < 2:
            return None
        interval = (self._taps[-1] - self._taps[0]) / (len(self._taps) - 1)
        self.set_tempo(60.0 / interval)
        return self.bpm

    def check_fallback(self, now: float) -> bool:
        """In ``auto``, return to the internal clock if pulses stopped while running; True if it did."""
        if not (self.following and self.source == "auto" and self.running and self._last_pulse is not None):
            return False
        # The same sum as window_close(), so a tick at exactly that time does fall back.
        if now < self._last_pulse + FALLBACK_SECONDS or self.step <= self._pulsed_step:
            return False
        self._fall_back(now)
        return True

    def resume_for_player(self, now: float) -> bool:
        """In ``auto``, a player's note at ``now`` while MIDI clock is stopped and no pulse came for
        ``FALLBACK_SECONDS``: the sequencer is done, the internal grid takes over. True if it did."""
        if self.source != "auto" or not self.following or self.running:
            return False
        if self._last_pulse is not None and now < self._last_pulse + FALLBACK_SECONDS:
            return False
        self.running = True
        self._fall_back(now)
        return True

    def _fall_back(self, now: float) -> None:
        self.following = False
        self.set_tempo(self._trusted if self._trusted is not None else self.bpm)
        self._centre = now

    def on_pulse(self, now: float) -> int | None:
        """A MIDI Clock message at ``now``; returns the step it begins, if it begins one."""
        if self.source in ("internal", "link"):
            return None
        # auto: a pulse long after the last is stray, not a clock; a quarter beat of them in a
        # row takes the grid over (two a sender bunched among stray ones do not)
        clocked = self._previous_pulse is not None and 0.0 <= now - self._previous_pulse <= PULSE_GAP_SECONDS
        self._previous_pulse = now
        self._run = self._run + 1 if clocked else 0
        if not self.following:
            if self.source == "auto" and self._run < TEMPO_MIN_PULSES - 1:
                return None
            self._restart()
        self._measure(now)
        if clocked or self.source == "midi":
            self._last_pulse = now
        if not self.running:
            return None
        self._pulse += 1
        begun = self._pulse * self.steps_per_beat // PPQN
        if self._pulse > 0 and begun == (self._pulse - 1) * self.steps_per_beat // PPQN:
            return None
        self._pulsed_step, self._pulsed_time = self._base + begun, now
        return self._pulsed_step

    def on_start(self, now: float) -> None:
        """MIDI Start: the next pulse is beat 1 of a new song."""
        if self.source in ("internal", "link"):
            return
        self._restart()
        self.origin = self._base
        self._song_position = None
        self._last_pulse = now

    def on_stop(self) -> None:
        if self.following:
            self.running = False

    def on_song_position(self, sixteenths: int) -> None:
        """Song Position Pointer: the next Continue resumes ``sixteenths`` 16th notes into the song."""
        if self.source not in ("internal", "link"):
            self._song_position = sixteenths

    def on_continue(self, now: float) -> None:
        if self.source in ("internal", "link"):
            return
        position, self._song_position = self._song_position, None
        if position is not None:
            # The next pulse begins a new step, ``position`` 16ths after bar 1 of the song.
            self._restart()
            if self.step > self._pulsed_step:  # the open step still waits for its pulse: the next begins it
                self._base = self.step
            self.origin = self._base - round(position * self.steps_per_beat / 4)
        if self.following:
            self.running = True
            self._last_pulse = now
            self._pulse_times.clear()  # after a locate the pulses may come on another phase
            self._steady.clear()

    def _restart(self) -> None:
        """Follow the pulses from the next one on: it begins a new step, and the tempo is measured afresh."""
        if not self.following:
            self._followed = self.bpm  # until a quarter beat of pulses is measured
        self.following, self.running = True, True
        self._pulse, self._base = -1, self.step + 1
        self._pulse_times.clear()
        self._steady.clear()

    def _measure(self, now: float) -> None:
        """A pulse arrived at ``now`` (seconds): measure the tempo over the last beat of them."""
        times = self._pulse_times
        if times and not 0.0 <= now - times[-1] <= PULSE_GAP_SECONDS:
            times.clear()  # a pause is not a pulse interval
            self._steady.clear()
        times.append(now)
        if len(times) < TEMPO_MIN_PULSES:
            return
        line = pulse_line(times)
        seconds = line[2]
        # Faster than twice the top of the range is no tempo but a span that is all burst
        # (a sender flushing its queue): keep the last tempo rather than jump to the clamp.
        if seconds * PPQN * 2 * TEMPO_RANGE[1] > 60.0:
            self._followed = min(max(60.0 / (seconds * PPQN), TEMPO_RANGE[0]), TEMPO_RANGE[1])
        if len(times) < TEMPO_SPAN:
            return
        bpm = 60.0 / (seconds * PPQN) if seconds > 0 else INF
        if not (TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1] and steady(times, line)):
            self._steady.clear()
            return
        self._steady.append(bpm)
        if len(self._steady) == PPQN and max(self._steady) <= min(self._steady) * (1 + STEADY_SPREAD):
            self._trusted = bpm

    # ---- Ableton Link (clock = "link"): the internal grid, kept on a session's timeline ----

    def on_link(self, now: float, beat: float, bpm: float, beats_per_bar: int, playing: bool | None) -> str | None:
        """A Link session's ``beat`` at ``now`` (seconds) at ``bpm``; "start"/"stop" on a transport change, "relock".

        ``beat`` has the session's quantum ``beats_per_bar``: its multiples are the session's bar
        lines, so jamd's are put there. ``playing`` None: nobody in the session uses start/stop.
        Steps stay centred on the session's grid lines; a jump of half a step or more (a peer
        moved the beat, a new model's grid, a reading that came late) puts the open step on the
        nearest line again; "relock" if that moved the beats onto other steps.
        """
        change = None
        if playing is not None and playing != self.running:
            self.running, self._link, change = playing, None, "start" if playing else "stop"
        if not self.running:
            return change
        self.bpm = min(max(float(bpm), TEMPO_RANGE[0]), TEMPO_RANGE[1])
        per_beat, beat_seconds = self.steps_per_beat, 60.0 / self.bpm
        if self._link is not None and self._centre is not None:
            step, line = self._link
            centre = now + ((line + self.step - step) / per_beat - beat) * beat_seconds
            if abs(centre - self._centre) < self.step_seconds / 2:
                self._centre = centre
                return change
        line = math.floor(beat * per_beat + 0.5)  # the grid line whose window is open now
        locked, origin = self._link is not None, self.origin
        self._link = (self.step, line)
        self._centre = now + (line / per_beat - beat) * beat_seconds
        self.origin = self.step - line % (per_beat * beats_per_bar)
        # Steps already planned as beats may be none now: the caller drops what it planned by them.
        return change or ("relock" if locked and (self.origin - origin) % per_beat else None)


def steady(times: Sequence[float], line: tuple[int, float, float] | None = None) -> bool:
    """True if the pulses at ``times`` (seconds) keep to a line, as a clock's do: at least
    ``STEADY_SHARE`` of them within ``STEADY_SECONDS`` plus half a pulse above it. Pulses at
    random times (a flood of messages with a stray clock among them) wander far from any line.
    ``line``: ``pulse_line(times)`` if already known."""
    index, offset, seconds = line or pulse_line(times)
    tolerance = STEADY_SECONDS + seconds / 2
    first = times[0]
    near = sum(1 for i, t in enumerate(times) if t - first - offset - (i - index) * seconds <= tolerance)
    return near >= STEADY_SHARE * len(times)


def pulse_line(times: Sequence[float]) -> tuple[int, float, float]:
    """The line consecutive clock pulses keep to, from their arrival times (seconds): a pulse
    index on it, that pulse's time after the first (seconds), and seconds per pulse.

    Pulses arrive late, never early: a sender that stalls and catches up, a locate, a backend
    handing over a period's pulses at once all deliver several together, each later than the
    line the pulses keep to. So the line is taken from below: the edge of the times' lower
    convex hull over the middle of the span. Late pulses lie above it and do not count, up to
    half the span of them in a row; ±1 ms of jitter moves a beat's measure by under 1 % at
    90-180 bpm. A tempo change is measured in full once the span holds only the new tempo
    (slowing down: once it holds half).
    """
    first, hull = times[0], []  # hull: (pulse index, seconds after the first pulse)
    for i, t in enumerate(times):
        t -= first  # small numbers: a monotonic clock may be days old
        while len(hull) > 1:
            (i1, t1), (i2, t2) = hull[-2], hull[-1]
            if (t2 - t1) * (i - i1) < (t - t1) * (i2 - i1):
                break  # (i2, t2) stays below the line from (i1, t1) to (i, t)
            hull.pop()
        hull.append((i, t))
    middle = (len(times) - 1) / 2
    for (i1, t1), (i2, t2) in zip(hull, hull[1:]):
        if i2 >= middle:
            return i1, t1, (t2 - t1) / (i2 - i1)
    return 0, 0.0, 0.0  # one pulse: no span
