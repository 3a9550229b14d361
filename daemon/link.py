"""Ableton Link (``clock = "link"``): join a Link session and feed its timeline to the engine's clock.

The ``jamd-link`` thread runs aalink (the Link library's Python binding, an optional extra:
``pip install 'jamd[link]'``) on an asyncio loop of its own. Every ``POLL_SECONDS`` it reads
the session's beat (quantum = ``beats_per_bar``, so beat 0, 4, 8 ... are the session's bar
lines), tempo and transport, stamps them with ``time.monotonic()`` and, when they differ
from what the last sample predicts, posts them to the engine thread (``Engine.link``): the
engine never calls Link. Tempo jamd sets (tap, the tempo knob or OSC) goes the other way,
to the session: the clock leaves it in ``Clock.tempo_request`` and this thread commits it.

Start/stop: followed once a peer has started the session's transport (Link reports "not
playing" for a session where nobody uses start/stop, which must not keep jamd quiet).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from jamd.daemon.errors import JamdError

log = logging.getLogger("jamd.link")

POLL_SECONDS = 0.02
DRIFT_BEATS = 0.002  # post a sample when the session is this far from the last one's prediction (1 ms at 120 bpm)
RESYNC_SECONDS = 1.0  # and at least this often
READ_SECONDS = 0.001  # a reading that took longer (the thread was preempted) is not trusted


def _aalink():
    try:
        import aalink
    except ImportError:
        raise JamdError("clock = \"link\" needs the aalink package (Ableton Link): pip install 'jamd[link]' "
                        "(or pip install aalink)") from None
    return aalink


class LinkSession:
    """A Link peer at ``bpm`` (until it finds a session); ``start`` with the Service, ``close`` at exit."""

    def __init__(self, bpm: float):
        self._aalink = _aalink()
        self._bpm = bpm
        self._service = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="jamd-link", daemon=True)
        self.peers = 0

    def start(self, service) -> None:
        self._service = service
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    async def _main(self) -> None:
        link = self._aalink.Link(self._bpm)  # needs a running event loop: this one
        link.quantum = self._service.engine.config.beats_per_bar
        link.start_stop_sync_enabled = True
        link.enabled = True
        log.info("Link enabled at %g bpm, quantum %d", self._bpm, link.quantum)
        last, asked, started, fed = None, None, False, None
        try:
            while not self._closing.is_set():
                engine = self._service.engine  # a reload may swap it
                request = engine.clock.tempo_request
                if request is not None and request != asked:
                    link.tempo, asked = request[1], request
                link.quantum = engine.config.beats_per_bar
                before = time.monotonic()
                beat, bpm, playing = link.beat, link.tempo, link.playing
                after = time.monotonic()
                if after - before > READ_SECONDS:  # preempted mid-read: the stamp may be off by as much
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                now = (before + after) / 2
                started = started or playing
                transport = playing if started else None
                if last is None or engine is not fed or self._moved(last, now, beat, bpm, transport):
                    last, fed = (now, beat, bpm, transport), engine  # a reloaded engine gets a sample at once
                    self._service.post(lambda engine, _, sample=last: engine.link(*sample))
                if link.num_peers != self.peers:
                    self.peers = link.num_peers
                    log.info("Link: %d peer%s, %.2f bpm", self.peers, "" if self.peers == 1 else "s", bpm)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            link.enabled = False

    @staticmethod
    def _moved(last: tuple, now: float, beat: float, bpm: float, transport) -> bool:
        at, last_beat, last_bpm, last_transport = last
        predicted = last_beat + (now - at) * last_bpm / 60.0
        return (bpm != last_bpm or transport != last_transport or abs(beat - predicted) > DRIFT_BEATS
                or now - at > RESYNC_SECONDS)
