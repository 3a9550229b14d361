"""OSC control over UDP (``jamd run --osc PORT``): the live settings of daemon/controls.py, a query, subscriptions.

Threads: ``jamd-osc`` receives, parses and checks each datagram, then hands what is valid
to the engine thread the way the MIDI callbacks do: onto a bounded queue, with one
``Service.post`` wake-up while any is waiting; the engine thread applies them between
messages (``_drain``). Replies and what subscribers see go out on the publisher's thread
(daemon/osc_out.py), never on the engine thread. Bad OSC (an unknown address, a wrong type,
a value out of range, a datagram that is not OSC) is logged once per kind and ignored, and
more than ``MAX_PER_SECOND`` datagrams a second are dropped unread, so a flood cannot take
the engine thread's time.

Addresses (the README's table is ``jamd.daemon.controls.osc_table()``): ``/jamd/NAME`` for each
setting, ``/jamd/query [port]`` (the current settings, sent back to the sender, or to
``port`` on the sender's host), ``/jamd/subscribe [port]`` and ``/jamd/unsubscribe [port]``.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from typing import Any

from pythonosc.osc_packet import OscPacket

from jamd.daemon.controls import BY_ADDRESS, MELODY_MODES, MODES, PREFIX, REQUESTS, Control, settings
from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import check_mode, kind_named
from jamd.daemon.model import shipped_models
from jamd.daemon.osc_out import Publisher

log = logging.getLogger("jamd.osc")

PENDING_MAX = 256  # settings waiting for the engine thread; more are dropped (a client gone mad)
MAX_PER_SECOND = 1000  # datagrams read a second at most; a fader sends 50-100
RECEIVE_TIMEOUT = 0.25  # seconds: how soon close() is noticed
QUERY, SUBSCRIBE, UNSUBSCRIBE = (PREFIX + name for name, _, _ in REQUESTS)


class BadOsc(Exception):
    """An OSC message jamd ignores; ``kind`` groups it for logging once."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind


def setting_value(control: Control, args: list, model_kind: str = "melody") -> Any:
    """The value ``Engine.set`` takes for ``control`` from an OSC message's ``args``; BadOsc if unfit.

    ``model_kind``: the running model's sidecar kind (a chords model plays only mode chords).
    Triggers return None for a button's release (an argument below 0.5).
    """
    def bad(why: str) -> BadOsc:
        kind = "range" if "range" in why else "type"
        return BadOsc(f"{kind} {control.address}", f"{control.address} {_show(args)}: {why}; "
                      f"expected {control.osc_values}")

    arg = args[0] if args else None
    number = isinstance(arg, (int, float)) and not isinstance(arg, bool)
    if control.kind == "trigger":
        if arg is None or arg is True:
            return True
        if arg is False or (number and arg < 0.5):
            return None  # the release of a button that sent its press
        if number:
            return True
        raise bad("not a number")
    if arg is None:
        raise bad("no argument")
    if control.kind == "float":
        if not number:
            raise bad("not a number")
        low, high = control.bounds
        if not low <= arg <= high:
            raise bad("out of range")
        return float(arg)
    if control.kind == "bool":
        if not (number or isinstance(arg, bool)):
            raise bad("not a number")
        return bool(arg >= 0.5) if number else arg
    if control.kind == "mode":
        modes = kind_named(model_kind).modes  # a number is one of the running model's modes
        if number and float(arg).is_integer() and 0 <= arg < len(modes):
            arg = modes[int(arg)]
        if arg not in MODES:
            raise bad("out of range" if number else "no such mode")
        try:
            check_mode(arg, kind_named(model_kind), "running")
        except JamdError as e:
            raise BadOsc(f"mode {control.address}", f"{control.address} {arg!r}: {e}") from None
        return arg
    names = shipped_models()  # model: a name or an index, Program Change's numbering
    if number and float(arg).is_integer() and 0 <= arg < len(names):
        return int(arg)
    if isinstance(arg, str) and arg in names:
        return names.index(arg)
    raise bad("out of range" if number else "no such model in models/ (" + ", ".join(names) + ")")


def _show(args: list) -> str:
    return " ".join(repr(a) for a in args) or "(no argument)"


class OscServer:
    """The ``--osc`` port on ``host``; ``start`` it with the running Service, ``close`` at exit."""

    def __init__(self, host: str, port: int):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.socket.bind((host, port))
        except (OSError, OverflowError) as e:
            self.socket.close()
            raise JamdError(f"osc = {port} on osc_host = {host!r}: cannot listen there "
                            f"({getattr(e, 'strerror', None) or e}); pick a free port or another address") from None
        self.socket.settimeout(RECEIVE_TIMEOUT)
        self.address = self.socket.getsockname()
        self.publisher = Publisher(self.socket)
        self.ignored: dict[str, int] = {}  # kind of bad OSC -> how many
        self.dropped = 0  # valid settings dropped: the engine thread had PENDING_MAX waiting
        self._pending: queue.Queue = queue.Queue(PENDING_MAX)
        self._posted = False  # a drain job is on its way to the engine thread
        self._service = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="jamd-osc", daemon=True)

    def start(self, service) -> None:
        """Serve ``service`` (jamd.daemon.service.Service): its engine, its ``post``."""
        self._service = service
        self.publisher.start(service)
        self._thread.start()
        log.info("OSC on udp://%s:%d (addresses under %s)", *self.address, PREFIX)

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.publisher.close()
        self.socket.close()
        if self.ignored or self.dropped:
            log.info("OSC: ignored %s; dropped %d settings (engine busy)", self.ignored, self.dropped)

    # ---- engine thread: the watcher hooks the Service calls, and the drain -------------

    def heard(self, channel: int, note: int, velocity: int) -> None:
        self.publisher.heard(channel, note, velocity)

    def sent(self, data: list[int]) -> None:
        self.publisher.sent(data)

    def _drain(self, engine, now: float) -> list:
        """On the engine thread: apply every waiting setting and answer every waiting query, in order."""
        self._posted = False  # before taking: a request arriving meanwhile posts again
        out: list = []
        while True:
            try:
                what, arg, where = self._pending.get_nowait()
            except queue.Empty:
                return out
            try:
                if what == "set":  # arg: the Control, where: its value
                    out += engine.set(arg.name, where, now)
                elif what == "query":
                    self.publisher.reply(where, settings(engine))
                elif what == "subscribe":
                    self.publisher.subscribe(where, settings(engine))
                else:
                    self.publisher.unsubscribe(where)
            except Exception:  # an OSC request must never end the engine thread
                if "failed" not in self.ignored:
                    log.exception("OSC request %s %r failed; ignored", what, where)
                self.ignored["failed"] = self.ignored.get("failed", 0) + 1

    # ---- the OSC thread -----------------------------------------------------------------

    def _receive(self) -> None:
        second, count = 0.0, 0
        while not self._closing.is_set():
            try:
                data, sender = self.socket.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError as e:  # e.g. an ICMP error from an earlier reply; the socket still works
                self._ignore("socket", f"receive failed: {e}")
                continue
            now = time.monotonic()
            if now - second >= 1.0:
                second, count = now, 0
            count += 1
            if count > MAX_PER_SECOND:
                self._ignore("flood", f"more than {MAX_PER_SECOND} datagrams a second: the rest of this second dropped")
                continue
            try:
                self.take(data, sender)
            except Exception as e:  # nothing a client sends may end the OSC thread
                self._ignore("error", f"datagram from {sender[0]}:{sender[1]} failed: {e!r}")

    def take(self, data: bytes, sender: tuple[str, int]) -> None:
        """One datagram from ``sender`` (host, port): every message in it checked and handed over."""
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception:  # python-osc raises ParseError, and on some garbage IndexError or struct.error
            self._ignore("unreadable", f"a {len(data)}-byte datagram from {sender[0]}:{sender[1]} is not OSC")
            return
        for message in messages:
            try:
                self._hand_over(*self._request(message.address, list(message.params), sender))
            except BadOsc as e:
                self._ignore(e.kind, str(e))

    def _request(self, address: str, args: list, sender: tuple[str, int]) -> tuple[str, Any, Any]:
        if address in (QUERY, SUBSCRIBE, UNSUBSCRIBE):
            port = args[0] if args else sender[1]
            if isinstance(port, float) and port.is_integer():  # Pd and TouchOSC send numbers as floats
                port = int(port)
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise BadOsc(f"type {address}", f"{address} {_show(args)}: expected no argument or a UDP port")
            # Replies go to the sender's own host only: jamd never sends to a third address.
            return address[len(PREFIX):], None, (sender[0], port)
        control = BY_ADDRESS.get(address)
        if control is None:
            raise BadOsc("address", f"unknown OSC address {address!r}; jamd's are under {PREFIX} (see the README)")
        value = setting_value(control, args, self._service.engine.model.sidecar.kind)
        return ("set", control, value) if value is not None else ("none", None, None)

    def _hand_over(self, what: str, arg: Any, where: Any) -> None:
        if what == "none":
            return
        try:
            self._pending.put_nowait((what, arg, where))
        except queue.Full:
            self.dropped += 1
            self._ignore("full", f"{PENDING_MAX} OSC requests wait for the engine: dropping more")
            return
        if not self._posted:
            self._posted = True
            self._service.post(self._drain)

    def _ignore(self, kind: str, detail: str) -> None:
        if kind not in self.ignored:
            log.warning("OSC ignored (logged once): %s", detail)
        self.ignored[kind] = self.ignored.get(kind, 0) + 1
