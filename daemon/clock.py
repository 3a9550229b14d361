"""The grid: when each step happens, from the internal tempo, tap tempo or an incoming MIDI clock.

Step ``k`` is centred on its time ``T_k``; a player's note belongs to the step whose centre is
nearest, so step ``k``'s window closes at ``T_k + step/2``. Times are seconds on the caller's
clock; tempo is quarter notes per minute.

MIDI clock is 24 pulses per quarter note. The first pulse after Start is beat 1, Stop pauses
the grid until Start or Continue, and in ``auto`` the grid goes back to the internal tempo
if pulses stop arriving while running (a sequencer unplugged, not stopped).
"""

from __future__ import annotations

import math

PPQN = 24
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
        self._pulse_seconds = 60.0 / (self.bpm * PPQN)
        self._taps: list[float] = []

    @property
    def tempo(self) -> float:
        """The current tempo in bpm (estimated from the pulses when following MIDI clock)."""
        return 60.0 / (self._pulse_seconds * PPQN) if self.following else self.bpm

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

    def set_tempo(self, bpm: float) -> None:
        """Internal tempo in bpm, clamped to 20-300; the open step keeps its window."""
        self.bpm = min(max(float(bpm), TEMPO_RANGE[0]), TEMPO_RANGE[1])

    def set_steps_per_beat(self, steps_per_beat: int) -> None:
        """A new model's grid; when following, the next pulse begins a new step."""
        self.steps_per_beat = steps_per_beat
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
        self.following = False
        self.set_tempo(60.0 / (self._pulse_seconds * PPQN))
        self._centre = now
        return True

    def on_pulse(self, now: float) -> int | None:
        """A MIDI Clock message at ``now``; returns the step it begins, if it begins one."""
        if self.source == "internal":
            return None
        if not self.following:
            self.following, self.running = True, True
            self._pulse, self._base = -1, self.step + 1
        if self._last_pulse is not None and 0.0 < now - self._last_pulse < 0.25:
            # A slow average: USB MIDI jitters by a millisecond or two per pulse.
            self._pulse_seconds += 0.2 * (now - self._last_pulse - self._pulse_seconds)
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
        if self.source == "internal":
            return
        self.following, self.running = True, True
        self._pulse, self._base = -1, self.step + 1
        self.origin = self._base
        self._last_pulse = now

    def on_stop(self) -> None:
        if self.following:
            self.running = False

    def on_continue(self, now: float) -> None:
        if self.following:
            self.running = True
            self._last_pulse = now
