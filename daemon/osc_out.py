"""What jamd tells OSC clients: query replies, and for subscribers what it hears, plays and decides.

The engine thread never touches a socket: its hooks (``heard``, ``sent``, ``reply``) append
to a bounded deque (when full the oldest go: a screen wants the newest) and return. The
``jamd-osc-out`` thread sends them, and every ``POLL_SECONDS`` while anyone is subscribed
reads the engine's state to publish what changed: mode, mute, model, tempo, the chord
chosen for the next beat, each answer and barge-in. Sends are non-blocking UDP; a client
that is gone costs a failed send, counted and logged once.

What a subscriber gets is listed in ``jamd.daemon.controls.EVENTS`` (and the README's OSC section).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque

from pythonosc.osc_message_builder import OscMessageBuilder

from jamd.daemon.controls import PREFIX

log = logging.getLogger("jamd.osc")

EVENTS_MAX = 1024
POLL_SECONDS = 0.01  # while subscribed: how often events go out and the state is read
IDLE_SECONDS = 0.5  # nobody subscribed: how often to look (replies wake the thread at once)
TEMPO_SECONDS = 0.25
SUBSCRIBERS_MAX = 16
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)  # never block, even if the send buffer is full


def datagram(address: str, args) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class Publisher:
    """Sends on ``sock`` (the OSC server's, so replies come from the port clients talk to)."""

    def __init__(self, sock: socket.socket):
        self.socket = sock
        self.subscribers: tuple[tuple[str, int], ...] = ()  # replaced whole: the threads share it
        self.failed = 0
        self._events: deque = deque(maxlen=EVENTS_MAX)
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._service = None
        self._seen: dict = {}
        self._tempo_at = 0.0
        self._thread = threading.Thread(target=self._run, name="jamd-osc-out", daemon=True)

    def start(self, service) -> None:
        self._service = service
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    # ---- engine thread ------------------------------------------------------------------

    def heard(self, channel: int, note: int, velocity: int) -> None:
        if self.subscribers:
            self._events.append((None, PREFIX + "heard", (note, velocity, channel + 1)))

    def sent(self, data: list[int]) -> None:
        if self.subscribers and len(data) == 3 and 0x80 <= data[0] < 0xA0:
            self._events.append((None, "played", data))

    def reply(self, target: tuple[str, int], items: list) -> None:
        """Send ``items`` ((address, value), ...) to ``target`` (host, port)."""
        self._events.extend((target, address, (value,)) for address, value in items)
        self._wake.set()

    def subscribe(self, target: tuple[str, int], items: list) -> None:
        """Add ``target`` and send it the current settings ``items``."""
        if target not in self.subscribers:
            if len(self.subscribers) >= SUBSCRIBERS_MAX:
                log.warning("OSC: %d subscribers already; %s:%d not added", SUBSCRIBERS_MAX, *target)
                return
            self.subscribers += (target,)
            log.info("OSC: %s:%d subscribed", *target)
        self.reply(target, items)

    def unsubscribe(self, target: tuple[str, int]) -> None:
        self.subscribers = tuple(s for s in self.subscribers if s != target)

    # ---- the publisher's thread ---------------------------------------------------------

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(POLL_SECONDS if self.subscribers else IDLE_SECONDS)
            self._wake.clear()
            try:
                if self.subscribers:
                    self._watch()
                self._flush()
            except Exception:  # a bad moment (a reload swapping the engine) must not end the thread
                log.exception("OSC publisher: skipped one round")

    def _flush(self) -> None:
        channel = self._service.engine.channel
        while self._events:
            target, address, args = self._events.popleft()
            if address == "played":
                status, note, velocity = args
                if status & 0x0F != channel:
                    continue  # thru and metronome: not jamd's playing
                address, args = PREFIX + "played", (note, velocity if status >= 0x90 else 0, channel + 1)
            packet = datagram(address, args)
            for where in (target,) if target is not None else self.subscribers:
                self._send(packet, where)

    def _send(self, packet: bytes, where: tuple[str, int]) -> None:
        try:
            self.socket.sendto(packet, DONTWAIT, where)
        except OSError as e:  # refused (the client quit), buffer full, closed at exit
            if not self.failed:
                log.warning("OSC: sending to %s:%d failed (%s); logged once", *where, e)
            self.failed += 1

    def _watch(self) -> None:
        """Publish what changed in the engine's state since the last look."""
        engine = self._service.engine
        now = time.monotonic()
        state = {"mode": engine.config.mode, "mute": int(engine.muted), "model": engine.model.name,
                 "chord": engine.chord or "", "answer": engine.stats["answers"],
                 "barge_in": engine.stats["barge_ins"]}
        if now - self._tempo_at >= TEMPO_SECONDS:
            state["tempo"] = round(engine.clock.tempo, 1)
        for key, value in state.items():
            if self._seen.get(key, value) != value:
                self._events.append((None, PREFIX + key, (value,)))
                if key == "tempo":
                    self._tempo_at = now
            self._seen[key] = value
