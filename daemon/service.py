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

import gc
import logging
import os
import queue
import signal
import threading
import time
from typing import Callable

import mido

from jamd.daemon.errors import JamdError
from jamd.daemon.messages import from_bytes, note_off
from jamd.daemon.notify import Notifier, watchdog_interval
from jamd.daemon.output import Output, Samples
from jamd.daemon.signals import wait_signal

log = logging.getLogger("jamd")

MAX_WAIT = 0.25  # the engine thread looks at control requests at least this often (seconds)
POLL_SECONDS = 1.0  # how often the supervisor looks for lost and returned devices
STATS_SECONDS = 60.0
RT_PRIORITY = 50  # SCHED_FIFO for the engine thread, below JACK's usual 70-95
DRAIN_SECONDS = 0.05  # after the last note-off: JACK delivers on its next period (5 ms at 256/48k)


class Service:
    """Runs ``engine`` between ``ports`` until a signal; ``serve()`` returns the exit code."""

    def __init__(self, config, ports, engine, reload: Callable[[], tuple] | None = None,
                 notifier: Notifier | None = None, recorder=None, watcher=None):
        self.config, self.ports, self.engine = config, ports, engine
        self._reload = reload  # () -> (config, engine) built from the re-read settings
        self.notifier = notifier or Notifier()
        self.recorder = recorder  # jamd.daemon.recorder.Recorder for --record; its writer thread does the I/O
        # watcher: jamd.daemon.osc.OscServer for --osc; it copies the notes heard and sent for its subscribers.
        self.watcher = watcher
        send = ports.send if recorder is None else _recording(ports.send, recorder)
        self.output = Output(send if watcher is None else _watched(send, watcher))
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
        # Everything loaded so far (model, onnxruntime, mido) lives as long as jamd: out of the
        # cyclic collector's sight, a full collection takes microseconds instead of ~5 ms that
        # would land on the engine thread at a random moment.
        gc.freeze()
        self._thread.start()
        status = (f"mode {self.config.mode}, model {self.engine.model.name}, "
                  f"{self.config.tempo:g} bpm, {self.ports.describe()}")
        log.info("ready: %s", status)
        self.notifier.ready(status)
        while not self._done.is_set():
            signum = wait_signal(POLL_SECONDS)
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
        if self.recorder is not None:
            self.recorder.close()
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
            for key in ("backend", "input", "output", "virtual", "osc", "osc_host", "clock"):
                if getattr(config, key) != getattr(self.config, key):
                    log.warning("reload: '%s' changed; ports (MIDI, OSC, Link) change only on restart", key)
            self._controls.put(("swap", (config, engine)))
            self._wake()
            log.info("reloaded: mode %s, model %s", config.mode, engine.model.name)
        self.notifier.ready(f"mode {config.mode}, model {engine.model.name}")

    def _wake(self) -> None:
        self.ports.queue.put_nowait(None)  # the engine thread then looks at the control requests

    def post(self, job: Callable) -> None:
        """Run ``job(engine, now)`` on the engine thread between messages; it returns messages to schedule.

        Any thread may call it (OSC, Link): like the MIDI callbacks, they hand over and return.
        """
        self._controls.put(("job", job))
        self._wake()

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
            due = self.engine.next_tick_time()  # nothing changes the engine until this thread does
            wake = min(due, output.next_time(), now + MAX_WAIT)
            try:
                item = q.get(timeout=max(0.0, wake - now))
            except queue.Empty:
                item = None
            if item is not None:
                self._input(*item, due)
                depth = q.qsize()
                if depth > self.queue_max:
                    self.queue_max = depth
            if not self._controls.empty() and self._control():
                return
            now = clock()
            if now >= self.engine.next_tick_time():
                output.schedule(self.engine.tick(now), now)
            output.send_due(clock())
            if self.recorder is not None:
                self.recorder.check(now)
            if ping is not None and now >= next_ping:
                self.notifier.watchdog()
                next_ping = now + ping
            if self.config.stats and now >= next_stats:
                self.log_stats()
                next_stats = now + STATS_SECONDS

    def _input(self, data: list[int], received: float, index: int, due: float) -> None:
        """One message from the callbacks: decide and send what is due at once, then keep the books.

        ``due``: the engine's ``next_tick_time()`` asked before the message came; a message
        received before it needs no grid step run first. Every step on this path runs on cold
        caches, 5-15 us each: notes, nearly all of the input, go to the engine as numbers.
        """
        self.received += 1
        status = data[0]
        if 0x80 <= status < 0xA0 and len(data) == 3 and (data[1] | data[2]) < 0x80:
            channel, note, velocity = status & 0x0F, data[1], (data[2] if status >= 0x90 else 0)
            out = self.engine.note(channel, note, velocity, received, received >= due)
            if out:
                self.output.schedule(out, time.monotonic())
            self.latency.add(time.monotonic() - received)
            self._track_key(index, channel, note, velocity)  # the books, after the decision
            if self.watcher is not None:
                self.watcher.heard(channel, note, velocity)
        else:
            try:
                msg = from_bytes(data)
            except (ValueError, TypeError, IndexError, KeyError):  # IndexError: a message cut short, e.g. [0xE0, 5]
                self.bad += 1
                return
            self._message(msg, received, due)
        if self.recorder is not None:
            self.recorder.player(from_bytes(data), received)

    def _message(self, msg: mido.Message, received: float, due: float) -> None:
        """Any message but a note: it may switch mode or model, or mute, so jamd's notes end first."""
        engine = self.engine
        before = (engine.config.mode, engine.model, engine.muted)
        out = engine.handle(msg, received, tick=received >= due)
        self._switched(before, out, time.monotonic())
        self.latency.add(time.monotonic() - received)

    def _switched(self, before: tuple, out: list, now: float) -> None:
        """Schedule ``out``; first silence jamd if the mode, the model or mute changed from ``before``."""
        engine = self.engine
        if (engine.config.mode, engine.model, engine.muted) != before:
            log.info("switched to mode %s, model %s%s", engine.config.mode, engine.model.name,
                     ", muted" if engine.muted else "")
            self._silence(now)
        self.output.schedule(out, now)

    def _track_key(self, index: int, channel: int, note: int, velocity: int) -> None:
        """The player's keys down per input, to end them if that device is lost."""
        if velocity:
            self._held.setdefault(index, set()).add((channel, note))
        else:
            self._held.get(index, set()).discard((channel, note))

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
                    self.output.schedule(self.engine.handle(note_off(channel, note), now), now)
                self._silence(now)
            elif what == "lost":
                self._silence(now)
            elif what == "swap":
                self._silence(now)
                self.config, self.engine = arg
            elif what == "job":
                engine = self.engine
                self._switched((engine.config.mode, engine.model, engine.muted), arg(engine, now), now)
        return False

    def _silence(self, now: float) -> None:
        channels = {self.engine.channel}
        self.output.flush(now, self.engine.silence(now), channels)

    def log_stats(self) -> None:
        clock = self.engine.clock
        log.info("stats: %d in (%d unreadable, %d dropped, queue max %d), %d out; latency %s; timing %s; "
                 "grid %.1f bpm (%s); engine %s", self.received, self.bad, self.ports.dropped, self.queue_max,
                 self.output.sent, self.latency.summary(), self.output.timing.summary(), clock.tempo,
                 "MIDI clock" if clock.following else "internal clock", self.engine.stats)


def _recording(send: Callable[[list[int]], None], recorder) -> Callable[[list[int]], None]:
    def send_and_record(data: list[int]) -> None:
        send(data)
        recorder.jamd(data)
    return send_and_record


def _watched(send: Callable[[list[int]], None], watcher) -> Callable[[list[int]], None]:
    def send_and_tell(data: list[int]) -> None:
        send(data)
        watcher.sent(data)
    return send_and_tell


def _ask_realtime() -> None:
    """SCHED_FIFO for the engine thread where allowed (LimitRTPRIO in the unit); else carry on."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        log.info("engine thread runs SCHED_FIFO %d", RT_PRIORITY)
    except (AttributeError, OSError) as e:
        # One line, then carry on: a laptop without LimitRTPRIO still plays, just less steadily.
        log.info("engine thread at normal priority (%s; allow it with LimitRTPRIO=%d or the audio group's "
                 "rtprio limit)", e.strerror if isinstance(e, OSError) else e, RT_PRIORITY)
