"""The real-time service: one engine thread between the ports and the pure engine.

Threads: the backend's MIDI threads only timestamp and enqueue (daemon/ports.py); the engine
thread waits on that queue until the next grid step or scheduled message is due, calls
``Engine.handle``/``tick`` and sends; the main thread supervises (signals, SIGHUP reload,
ports that come and go, systemd notify) and never touches the engine itself: it posts
control requests the engine thread carries out between messages.

Note hygiene lives at the output boundary (``Output``): every note-on that actually went out
is tracked until its note-off goes out, so whatever stops jamd (SIGTERM, SIGINT, a lost
port, a mode or model switch) ends exactly the notes that sound, then sustain off and all
notes off on jamd's channels.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import queue
import signal
import threading
import time
from typing import Callable

import mido
import numpy as np

from daemon.errors import JamdError
from daemon.notify import Notifier, watchdog_interval

log = logging.getLogger("jamd")

Scheduled = tuple  # (send time in seconds on time.monotonic(), mido.Message)

EARLY = 0.0002  # send a message this close to its time now: a sleep cannot be shorter anyway
MAX_WAIT = 0.25  # the engine thread looks at control requests at least this often (seconds)
POLL_SECONDS = 1.0  # how often the supervisor looks for lost and returned devices
STATS_SECONDS = 60.0
RT_PRIORITY = 50  # SCHED_FIFO for the engine thread, below JACK's usual 70-95
DRAIN_SECONDS = 0.05  # after the last note-off: JACK delivers on its next period (5 ms at 256/48k)
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Samples:
    """The last ``size`` durations in seconds, for median and p99 without unbounded memory."""

    def __init__(self, size: int = 1 << 16):
        self._values = np.zeros(size)
        self.count = 0

    def add(self, seconds: float) -> None:
        self._values[self.count % len(self._values)] = seconds
        self.count += 1

    def percentiles(self) -> tuple[float, float]:
        """(median, p99) in seconds; (nan, nan) if empty."""
        if not self.count:
            return math.nan, math.nan
        p50, p99 = np.percentile(self._values[:min(self.count, len(self._values))], [50, 99])
        return float(p50), float(p99)

    def summary(self) -> str:
        if not self.count:
            return "none"
        p50, p99 = self.percentiles()
        return f"median {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms ({self.count} samples)"


class Output:
    """Sends scheduled MIDI at its time and remembers which note-ons actually went out."""

    def __init__(self, send: Callable[[list[int]], None], clock: Callable[[], float] = time.monotonic):
        self._send, self._clock = send, clock
        self._heap: list = []
        self._order = itertools.count()
        self.sounding: set[tuple[int, int]] = set()  # (channel 0-15, note) sent on and not yet off
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
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            self.sounding.add((msg.channel, msg.note))
            self.channels.add(msg.channel)
        elif kind in ("note_off", "note_on"):
            self.sounding.discard((msg.channel, msg.note))
        self._send(msg.bytes())
        self.sent += 1
        if measure:
            self.timing.add(self._clock() - when)

    def flush(self, now: float, silence: list[Scheduled], channels: set[int]) -> None:
        """End everything: pending note-ons dropped, note-offs of sounding notes and ``silence``
        sent now, then sustain off (CC64=0) and all notes off (CC123) on ``channels`` and on
        every channel a note went out on."""
        pending, self._heap = sorted(self._heap), []
        for _, _, msg in pending:
            if _is_note_off(msg) and (msg.channel, msg.note) in self.sounding:
                self._emit(now, msg, measure=False)
        for _, msg in silence:
            if not (msg.type == "note_on" and msg.velocity > 0):
                self._emit(now, msg, measure=False)
        for channel, note in sorted(self.sounding):
            self._emit(now, mido.Message("note_off", channel=channel, note=note), measure=False)
        for channel in sorted(channels | self.channels):
            for control in (64, 123):
                self._emit(now, mido.Message("control_change", channel=channel, control=control, value=0),
                           measure=False)
        self.channels = set()


def _is_note_off(msg: mido.Message) -> bool:
    return msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)


class Service:
    """Runs ``engine`` between ``ports`` until a signal; ``serve()`` returns the exit code."""

    def __init__(self, config, ports, engine, reload: Callable[[], tuple] | None = None,
                 notifier: Notifier | None = None):
        self.config, self.ports, self.engine = config, ports, engine
        self._reload = reload  # () -> (config, engine) built from the re-read settings
        self.notifier = notifier or Notifier()
        self.output = Output(ports.send)
        self.latency = Samples()  # callback receipt -> decision made and immediate output sent
        self.received = 0
        self.bad = 0  # messages mido could not parse
        self.queue_max = 0  # deepest the input queue got: growth means the engine falls behind
        self._held: dict[int, set[tuple[int, int]]] = {}  # per input: the player's keys down
        self._controls: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Event()
        self.exit_code = 0
        self._thread = threading.Thread(target=self._engine_main, name="jamd-engine", daemon=True)

    # ---- main thread --------------------------------------------------------------------

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT (exit code 0) or an engine failure (1). Call from the main thread
        after ``block_signals()``."""
        self._thread.start()
        status = (f"mode {self.config.mode}, model {self.engine.model.name}, "
                  f"{self.config.tempo:g} bpm, {self.ports.describe()}")
        log.info("ready: %s", status)
        self.notifier.ready(status)
        while not self._done.is_set():
            signum = _wait_signal(POLL_SECONDS)
            if signum in (signal.SIGTERM, signal.SIGINT):
                log.info("%s: stopping", signal.Signals(signum).name)
                break
            if signum == signal.SIGHUP:
                self._reload_settings()
            try:
                events = self.ports.poll()
            except Exception as e:  # a backend hiccup must not stop the music; try again next second
                log.warning("checking MIDI ports failed: %s", e)
                events = []
            for event in events:
                log.log(logging.WARNING if event.kind.endswith("lost") else logging.INFO, "%s: %s",
                        event.kind, event.name)
                if event.kind in ("input lost", "output lost"):
                    self._controls.put(("lost", event))
                self._wake()
        self.notifier.stopping()
        self._controls.put(("stop", None))
        self._wake()
        self._thread.join(timeout=5.0)
        time.sleep(DRAIN_SECONDS)
        self.ports.close()
        self.log_stats()
        log.info("processing latency per input event: %s", self.latency.summary())
        log.info("output timing error (sent - intended): %s", self.output.timing.summary())
        if self.ports.dropped:
            log.warning("%d input messages dropped: the input queue was full", self.ports.dropped)
        self.notifier.close()
        return self.exit_code

    def _reload_settings(self) -> None:
        if self._reload is None:
            return
        self.notifier.reloading()
        config, engine = self.config, self.engine
        try:
            config, engine = self._reload()
        except JamdError as e:
            log.error("reload failed, keeping the running settings: %s", e)
        else:
            for key in ("backend", "input", "output", "virtual"):
                if getattr(config, key) != getattr(self.config, key):
                    log.warning("reload: '%s' changed; ports change only on restart", key)
            self._controls.put(("swap", (config, engine)))
            self._wake()
            log.info("reloaded: mode %s, model %s", config.mode, engine.model.name)
        self.notifier.ready(f"mode {config.mode}, model {engine.model.name}")

    def _wake(self) -> None:
        self.ports.queue.put_nowait(None)  # the engine thread then looks at the control requests

    # ---- engine thread ------------------------------------------------------------------

    def _engine_main(self) -> None:
        _ask_realtime()
        try:
            self._loop()
        except Exception:
            log.exception("engine failed; silencing and stopping")
            self.exit_code = 1
            self._silence(time.monotonic())
        finally:
            self._done.set()  # the supervisor notices within POLL_SECONDS and shuts down

    def _loop(self) -> None:
        q, clock, output = self.ports.queue, time.monotonic, self.output
        ping = watchdog_interval()
        next_ping = clock() + (ping or 0.0)  # READY=1 (sent by serve) comes first
        next_stats = clock() + STATS_SECONDS
        while True:
            now = clock()
            wake = min(self.engine.next_tick_time(), output.next_time(), now + MAX_WAIT)
            try:
                item = q.get(timeout=max(0.0, wake - now))
            except queue.Empty:
                item = None
            if item is not None:
                depth = q.qsize()
                if depth > self.queue_max:
                    self.queue_max = depth
                self._input(*item)
            if not self._controls.empty() and self._control():
                return
            now = clock()
            if now >= self.engine.next_tick_time():
                output.schedule(self.engine.tick(now), now)
            output.send_due(clock())
            if ping is not None and now >= next_ping:
                self.notifier.watchdog()
                next_ping = now + ping
            if self.config.stats and now >= next_stats:
                self.log_stats()
                next_stats = now + STATS_SECONDS

    def _input(self, data: list[int], received: float, index: int) -> None:
        self.received += 1
        try:
            msg = mido.Message.from_bytes(data)
        except (ValueError, TypeError):
            self.bad += 1
            return
        self._track_keys(msg, index)
        engine = self.engine
        before = (engine.config.mode, engine.model, engine.muted)
        out = engine.handle(msg, received)
        now = time.monotonic()
        if (engine.config.mode, engine.model, engine.muted) != before:
            log.info("switched to mode %s, model %s%s", engine.config.mode, engine.model.name,
                     ", muted" if engine.muted else "")
            self._silence(now)
        self.output.schedule(out, now)
        self.latency.add(time.monotonic() - received)

    def _track_keys(self, msg: mido.Message, index: int) -> None:
        if msg.type == "note_on" and msg.velocity > 0:
            self._held.setdefault(index, set()).add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self._held.get(index, set()).discard((msg.channel, msg.note))

    def _control(self) -> bool:
        """Carry out the supervisor's requests; True when the engine thread must stop."""
        while not self._controls.empty():
            what, arg = self._controls.get()
            now = time.monotonic()
            if what == "stop":
                self._silence(now)
                return True
            if what == "lost" and arg.kind == "input lost":
                # The device's keys will never send their note-offs: end them for it.
                for channel, note in sorted(self._held.pop(arg.index, set())):
                    off = mido.Message("note_off", channel=channel, note=note)
                    self.output.schedule(self.engine.handle(off, now), now)
                self._silence(now)
            elif what == "lost":
                self._silence(now)
            elif what == "swap":
                self._silence(now)
                self.config, self.engine = arg
        return False

    def _silence(self, now: float) -> None:
        channels = {self.engine.channel}
        self.output.flush(now, self.engine.silence(now), channels)

    def log_stats(self) -> None:
        log.info("stats: %d in (%d unreadable, %d dropped, queue max %d), %d out; latency %s; timing %s; "
                 "engine %s", self.received, self.bad, self.ports.dropped, self.queue_max, self.output.sent,
                 self.latency.summary(), self.output.timing.summary(), self.engine.stats)


def block_signals() -> None:
    """Route SIGTERM/SIGINT/SIGHUP to ``Service.serve``'s wait: call before any thread starts
    (the MIDI backends start theirs when ports open), so no thread is interrupted by them."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    else:  # pragma: no cover - Windows: Ctrl-C arrives as KeyboardInterrupt
        pass


def _wait_signal(timeout: float) -> int | None:
    try:
        info = signal.sigtimedwait(_SIGNALS, timeout)
    except AttributeError:  # pragma: no cover - macOS has no sigtimedwait
        return _poll_pending(timeout)
    return info.si_signo if info is not None else None


def _poll_pending(timeout: float) -> int | None:  # pragma: no cover - macOS
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pending = signal.sigpending()
        if pending:
            signum = next(iter(pending))
            signal.sigwait([signum])
            return signum
        time.sleep(0.05)
    return None


def _ask_realtime() -> None:
    """SCHED_FIFO for the engine thread where allowed (LimitRTPRIO in the unit); else carry on."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        log.debug("engine thread runs SCHED_FIFO %d", RT_PRIORITY)
    except (AttributeError, OSError) as e:
        log.debug("engine thread at normal priority (%s)", e)
