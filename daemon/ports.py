"""jamd's open MIDI ports through python-rtmidi: opening them with the input callback, and
noticing devices that go and come back (hot-plug polling).

The engine never sees a port. Input callbacks put ``(bytes, time.monotonic() seconds, input
index)`` on a bounded queue and return; the service's engine thread parses and decides. The
supervisor (main thread) calls ``Ports.poll()`` about once a second to notice a device that
went away (USB unplug, a JACK client quitting), to reconnect it when it is back and, when jamd
listens to every device, to connect the ones plugged in since.

The rest of the MIDI adapter, one job each: ``jamd.daemon.port_names`` (pure name matching),
``jamd.daemon.backends`` (which backend is usable), ``jamd.daemon.port_listing`` (``jamd ports``,
``jamd doctor``), ``jamd.daemon.thread_state`` (a CPython workaround for the callbacks). Their
public names are importable from here too.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from dataclasses import dataclass
from threading import get_ident

import rtmidi

from jamd.daemon.backends import api as _api, quiet_stderr as _quiet_stderr, resolve_backend, unavailable_reason
from jamd.daemon.errors import JamdError
from jamd.daemon.jack_ports import JACK_SETTLE_SECONDS, ReconnectingMidiIn, ReconnectingMidiOut
from jamd.daemon.port_listing import describe_ports, list_ports
from jamd.daemon.port_names import CLIENT, VIRTUAL_IN, VIRTUAL_OUT, is_own_port, match_port, new_devices
from jamd.daemon.thread_state import keep_thread_state

__all__ = ["CLIENT", "VIRTUAL_IN", "VIRTUAL_OUT", "QUEUE_SIZE", "Event", "Ports", "describe_ports", "is_own_port",
           "list_ports", "match_port", "new_devices", "resolve_backend", "unavailable_reason"]

log = logging.getLogger("jamd")

QUEUE_SIZE = 4096  # ~2 s of a dense 2,000 msg/s stream; beyond that the engine is stuck anyway


def _midi_in(api: int):
    return (ReconnectingMidiIn if api == rtmidi.API_UNIX_JACK else rtmidi.MidiIn)(api, CLIENT)


def _midi_out(api: int):
    return (ReconnectingMidiOut if api == rtmidi.API_UNIX_JACK else rtmidi.MidiOut)(api, CLIENT)


@dataclass
class _Port:
    """One rtmidi port: jamd's virtual one (pattern None) or a connection to a named device."""

    pattern: str | None
    midi: object
    index: int  # tells the service which input a message came from
    connected: str | None = None  # the device port name while connected
    listening: bool = False  # the input callback is set


@dataclass
class Event:
    """A change ``poll`` noticed: kind is 'input lost', 'input back', 'input new' (a device
    plugged in while jamd listens to every one), 'output lost' or 'output back'."""

    kind: str
    index: int
    name: str


class Ports:
    """jamd's open MIDI ports on one backend.

    ``virtual`` opens ``jamd in``/``jamd out`` for others to connect to; each input pattern
    connects to the matching device (no patterns and not virtual: every device there is, now
    and plugged in later: ``listen_all``); the output pattern connects to one device (empty
    and not virtual: the first one).
    """

    def __init__(self, backend: str, inputs: tuple[str, ...] = (), output: str = "", virtual: bool = False,
                 maxsize: int = QUEUE_SIZE):
        self.backend = resolve_backend(backend)
        # SimpleQueue is C code with one lock: put never blocks and get wakes faster than
        # queue.Queue's Python condition variable. The bound is ours (see _callback).
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.maxsize = maxsize
        self.dropped = 0  # messages the callbacks could not enqueue (queue full)
        self.inputs: list[_Port] = []
        self.outputs: list[_Port] = []
        self.listen_all = not inputs and not virtual
        api = _api(self.backend)
        self._probe_in = self._probe_out = None
        try:
            if inputs or output or not virtual:
                # Clients that list the ports, for named devices only: each JACK client costs the
                # server a round trip every cycle. Named apart so the virtual ports' is "jamd".
                with _quiet_stderr():
                    self._probe_in = rtmidi.MidiIn(api, f"{CLIENT}-watch")
                    self._probe_out = rtmidi.MidiOut(api, f"{CLIENT}-watch")
            self._open(api, inputs, output, virtual)
        except JamdError:
            self.close()
            raise
        except Exception as e:  # rtmidi raises its own SystemError/RuntimeError types
            self.close()
            raise JamdError(f"MIDI backend {self.backend}: cannot open ports ({e})") from None

    def _open(self, api: int, inputs: tuple[str, ...], output: str, virtual: bool) -> None:
        sources, sinks = self.available() if self._probe_in is not None else ([], [])
        if virtual:
            out = _midi_out(api)
            out.open_virtual_port(VIRTUAL_OUT)
            self.outputs.append(_Port(None, out, len(self.outputs), VIRTUAL_OUT))
        if output or not virtual:
            if output:
                name = match_port(output, sinks, "output")
            elif sinks:
                name = sinks[0]
            else:
                raise JamdError(f"no MIDI output ports on {self.backend}; name one with --output or use --virtual")
            self.outputs.append(_Port(output or name, _midi_out(api), len(self.outputs)))
            self._connect("output", self.outputs[-1], name)
        if virtual:
            self._add_input(api, None, None)
        patterns = list(inputs)
        if self.listen_all:
            patterns = new_devices(sources, set(), [o.connected for o in self.outputs])
            if not patterns:
                # A headless box boots before the keyboard is plugged in: poll() connects it.
                log.warning("no MIDI input device on %s yet: waiting for one (plug in a keyboard)",
                            self.backend)
        for pattern in patterns:
            self._add_input(api, pattern, match_port(pattern, sources, "input"))

    def _add_input(self, api: int, pattern: str | None, name: str | None) -> None:
        midi = _midi_in(api)
        # Clock messages drive the grid (--clock midi); sysex and active sensing are noise here.
        midi.ignore_types(sysex=True, timing=False, active_sense=True)
        entry = _Port(pattern, midi, len(self.inputs))
        self.inputs.append(entry)
        if name is None:
            midi.set_callback(self._callback(entry.index))
            midi.open_virtual_port(VIRTUAL_IN)
            entry.connected = VIRTUAL_IN
        else:
            self._connect("input", entry, name)

    def _connect(self, kind: str, port: _Port, name: str) -> None:
        if kind == "input":
            port.midi.open_port(self._probe_in.get_ports().index(name), f"{VIRTUAL_IN} {port.index + 1}")
            if not port.listening:  # set once on JACK (the port is kept), again after close_port()
                port.midi.set_callback(self._callback(port.index))
                port.listening = True
        else:
            port.midi.open_port(self._probe_out.get_ports().index(name), VIRTUAL_OUT)
        port.connected = name

    def _callback(self, index: int):
        put, size, clock, limit = self.queue.put_nowait, self.queue.qsize, time.monotonic, self.maxsize
        kept: set[int] = set()  # the backend threads whose Python thread state is kept

        def on_midi(event, _data):
            # Runs on the backend's thread: timestamp, enqueue, return. Nothing that can block.
            # Two inputs' threads may both pass the check at once: the bound is off by one at most.
            if size() < limit:
                put((event[0], clock(), index))
            else:
                self.dropped += 1
            if get_ident() not in kept:
                kept.add(get_ident())
                keep_thread_state()
        return on_midi

    def available(self) -> tuple[list[str], list[str]]:
        """(device inputs, device outputs) on this backend right now, jamd's own ports left out."""
        return ([n for n in self._probe_in.get_ports() if not is_own_port(n)],
                [n for n in self._probe_out.get_ports() if not is_own_port(n)])

    def send(self, data: list[int]) -> None:
        """Send one MIDI message (bytes) to every output now."""
        for out in self.outputs:
            out.midi.send_message(data)

    def poll(self) -> list[Event]:
        """Notice lost devices, reconnect returned ones and, with ``listen_all``, connect new ones;
        call about once a second."""
        if (not self.listen_all and all(e.pattern is None for e in self.inputs)
                and all(o.pattern is None for o in self.outputs)):
            # Virtual ports only: nothing to watch. Listing ports is a request to the JACK server
            # made holding the GIL; skip it when there is no need.
            return []
        sources, sinks = self.available()
        events: list[Event] = []
        for kind, ports, names in (("input", self.inputs, sources), ("output", self.outputs, sinks)):
            for port in ports:
                if port.pattern is None:
                    continue
                if port.connected is not None and port.connected not in names:
                    events.append(Event(f"{kind} lost", port.index, port.connected))
                    if self.backend != "jack":  # a JACK port is kept (jamd.daemon.jack_ports)
                        port.midi.close_port()  # which also cancels the callback
                        port.listening = False
                    port.connected = None
                if port.connected is None:
                    name = self._rematch(port.pattern, names)
                    if name is not None:
                        self._connect(kind, port, name)
                        events.append(Event(f"{kind} back", port.index, name))
        if self.listen_all:
            # After the outputs' turn: a returned output's client is known before inputs are added.
            heard = {e.connected for e in self.inputs}
            for name in new_devices(sources, heard, [o.connected for o in self.outputs if o.connected]):
                self._add_input(_api(self.backend), name, name)
                events.append(Event("input new", self.inputs[-1].index, name))
        return events

    @staticmethod
    def _rematch(pattern: str, names: list[str]) -> str | None:
        try:
            return match_port(pattern, names)
        except JamdError:
            return None  # not back yet (or ambiguous for now): try again next poll

    def describe(self) -> str:
        """One line naming the backend and each port's connection, for the log."""
        ins = ", ".join(e.connected or f"'{e.pattern}' (waiting)" for e in self.inputs)
        ins = ins or ("every device (none yet)" if self.listen_all else "none")
        outs = ", ".join(o.connected or f"'{o.pattern}' (waiting)" for o in self.outputs) or "none"
        return f"{self.backend}: in {ins}; out {outs}"

    def close(self) -> None:
        """Close every port (call after the last message had time to leave; see Service)."""
        for entry in self.inputs:
            entry.midi.cancel_callback()
        for thing in [e.midi for e in self.inputs] + [o.midi for o in self.outputs]:
            if self.backend == "jack":
                time.sleep(JACK_SETTLE_SECONDS)  # see jamd.daemon.jack_ports
            with contextlib.suppress(Exception):
                thing.close_port()
                thing.delete()
        for probe in (self._probe_in, self._probe_out):  # no port of their own: nothing to race
            if probe is not None:
                with contextlib.suppress(Exception):
                    probe.delete()
        self.inputs, self.outputs = [], []
