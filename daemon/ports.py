"""MIDI ports through python-rtmidi: the only module in jamd that touches a MIDI backend.

The engine never sees a port. Input callbacks put ``(bytes, time.monotonic() seconds, input
index)`` on a bounded queue and return; the service's engine thread parses and decides. The
supervisor (main thread) calls ``Ports.poll()`` about once a second to notice a device that
went away (USB unplug, a JACK client quitting), to reconnect it when it is back and, when jamd
listens to every device, to connect the ones plugged in since.

The backend is always named to rtmidi: with no API given it tries ALSA first and fails with
a bare SystemError where /dev/snd/seq is missing (containers, CI).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import re
import sys
import time
from dataclasses import dataclass
from threading import get_ident

import rtmidi

from daemon.errors import JamdError

log = logging.getLogger("jamd")

# The client name other programs see; set it to run two jamds side by side. Port names stay
# "jamd in"/"jamd out" so a patchbay still shows what they are.
CLIENT = os.environ.get("JAMD_CLIENT_NAME", "jamd")
VIRTUAL_IN = "jamd in"
VIRTUAL_OUT = "jamd out"
QUEUE_SIZE = 4096  # ~2 s of a dense 2,000 msg/s stream; beyond that the engine is stuck anyway
_APIS = {"alsa": "API_LINUX_ALSA", "jack": "API_UNIX_JACK", "coremidi": "API_MACOSX_CORE",
         "winmm": "API_WINDOWS_MM"}

# libjack does not auto-start a server for us (it would grab the sound card); ask explicitly.
os.environ.setdefault("JACK_NO_START_SERVER", "1")

def match_port(pattern: str, names: list[str], kind: str = "input") -> str:
    """The one port in ``names`` whose name contains ``pattern`` (case-insensitive).

    ALSA client numbers change across replugs, so a substring is what users can rely on. An
    exact (case-insensitive) name wins over substrings; otherwise no match or several matches
    raise JamdError listing the ports there are.
    """
    wanted = pattern.casefold()
    hits = [n for n in names if wanted in n.casefold()]
    exact = [n for n in hits if n.casefold() == wanted]
    if len(exact) == 1 or (hits and len(set(hits)) == 1):
        return (exact or hits)[0]
    listing = ", ".join(repr(n) for n in names) or "none"
    if not hits:
        raise JamdError(f"no MIDI {kind} port matches '{pattern}'; available {kind} ports: {listing}")
    raise JamdError(f"MIDI {kind} port name '{pattern}' is ambiguous, it matches "
                    f"{', '.join(repr(n) for n in hits)}; give more of the name")


def new_devices(sources: list[str], heard: set[str], played_to: list[str]) -> list[str]:
    """The input ports in ``sources`` that listening to every device adds: those not ``heard``
    yet, except any port of a client jamd plays to (``played_to``: output port names). ALSA's
    "Midi Through" would loop jamd's own notes back in as the player's."""
    clients = {n.split(":")[0] for n in played_to}
    return [n for n in sources if n not in heard and n.split(":")[0] not in clients]


def is_own_port(name: str) -> bool:
    """True for jamd's own ports as other clients list them: "jamd:jamd out" on JACK (a second
    client becomes "jamd-01"), "jamd:jamd in 129:0" on ALSA. jamd never connects to itself."""
    return bool(re.match(rf"{re.escape(CLIENT)}(-\d+)?:jamd (in|out)\b", name))


def _keep_thread_state() -> None:
    """Keep the calling backend thread's Python thread state until jamd exits.

    The backend's MIDI thread is not one of Python's, so every callback into Python creates a
    thread state and deletes it on return, holding the GIL meanwhile, while the engine thread
    the callback just woke waits for the GIL. One more PyGILState_Ensure, never released,
    keeps the state: each callback then gives the GIL back at once (``bench/latency.py``: the
    engine thread starts on a message 10-15 us sooner, median and p90).
    """
    if sys.implementation.name == "cpython":
        ctypes.pythonapi.PyGILState_Ensure()


def _api(backend: str) -> int:
    return getattr(rtmidi, _APIS[backend])


@contextlib.contextmanager
def _quiet_stderr():
    """Mute C libraries (libjack, alsa-lib) that print to fd 2 while we probe a backend.

    Only used at start-up and by ``jamd ports``, before other threads log.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def unavailable_reason(backend: str) -> str | None:
    """None if ``backend`` (alsa, jack, coremidi, winmm) can be used here, else why not and what to do."""
    if backend not in _APIS:
        raise JamdError(f"unknown MIDI backend '{backend}'; use one of auto, {', '.join(_APIS)}")
    compiled = rtmidi.get_compiled_api()
    if backend == "alsa":
        if _api("alsa") not in compiled:
            return "python-rtmidi was built without ALSA: reinstall it with libasound2-dev present or use --backend jack"
        if not os.path.exists("/dev/snd/seq"):
            return ("no ALSA sequencer (/dev/snd/seq missing): load it with `sudo modprobe snd-seq` or use "
                    "--backend jack with a running JACK server")
        return None
    if backend == "jack":
        if _api("jack") not in compiled:
            return "python-rtmidi was built without JACK: reinstall it with libjack-dev present or use --backend alsa"
        try:
            with _quiet_stderr():
                rtmidi.MidiIn(_api("jack"), CLIENT).delete()
        except Exception:
            return ("no JACK server answers: start one (`jackd -d alsa`, or `jackd -d dummy` without a sound "
                    "card; PipeWire users: run jamd under pw-jack) or use --backend alsa")
        return None
    platform = {"coremidi": ("darwin", "macOS"), "winmm": ("win32", "Windows")}[backend]
    if sys.platform != platform[0] or _api(backend) not in compiled:
        return f"{backend} exists only on {platform[1]}: use --backend alsa or --backend jack"
    return None


def resolve_backend(backend: str) -> str:
    """The backend to use for ``--backend``: ``auto`` tries ALSA, then JACK, then the OS's own.

    JamdError (one line: which backend failed and what to do) if it is not usable.
    """
    if backend != "auto":
        reason = unavailable_reason(backend)
        if reason:
            raise JamdError(f"MIDI backend {backend}: {reason}")
        return backend
    reasons = []
    for name in ("alsa", "jack", "coremidi", "winmm"):
        if name in ("coremidi", "winmm") and sys.platform not in ("darwin", "win32"):
            continue
        reason = unavailable_reason(name)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise JamdError("no MIDI backend available (" + "; ".join(reasons) + ")")


def list_ports(backend: str) -> tuple[list[str], list[str]]:
    """(input ports, output ports) other programs offer on ``backend``, jamd's own left out."""
    with _quiet_stderr():
        probe_in, probe_out = rtmidi.MidiIn(_api(backend), CLIENT), rtmidi.MidiOut(_api(backend), CLIENT)
    try:
        return ([n for n in probe_in.get_ports() if not is_own_port(n)],
                [n for n in probe_out.get_ports() if not is_own_port(n)])
    finally:
        probe_in.delete()
        probe_out.delete()


def describe_ports(backend: str = "auto") -> str:
    """What ``jamd ports`` prints: each backend's inputs and outputs, or why it is unavailable."""
    names = [b for b in _APIS if b in ("alsa", "jack") or sys.platform in ("darwin", "win32")]
    if backend != "auto":
        names = [backend]
    lines = []
    for name in names:
        reason = unavailable_reason(name)
        if reason:
            lines.append(f"{name}: unavailable: {reason}")
            continue
        inputs, outputs = list_ports(name)
        lines.append(f"{name}:")
        lines.append("  inputs (jamd listens to these, --input):")
        lines += [f"    {n}" for n in inputs] or ["    (none)"]
        lines.append("  outputs (jamd plays to these, --output):")
        lines += [f"    {n}" for n in outputs] or ["    (none)"]
    return "\n".join(lines)


@dataclass
class _Port:
    """One rtmidi port: jamd's virtual one (pattern None) or a connection to a named device."""

    pattern: str | None
    midi: object
    index: int  # tells the service which input a message came from
    connected: str | None = None  # the device port name while connected


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
            out = rtmidi.MidiOut(api, CLIENT)
            out.open_virtual_port(VIRTUAL_OUT)
            self.outputs.append(_Port(None, out, len(self.outputs), VIRTUAL_OUT))
        if output or not virtual:
            if output:
                name = match_port(output, sinks, "output")
            elif sinks:
                name = sinks[0]
            else:
                raise JamdError(f"no MIDI output ports on {self.backend}; name one with --output or use --virtual")
            self.outputs.append(_Port(output or name, rtmidi.MidiOut(api, CLIENT), len(self.outputs)))
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
        midi = rtmidi.MidiIn(api, CLIENT)
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
            port.midi.set_callback(self._callback(port.index))  # close_port() cancelled the last one
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
                _keep_thread_state()
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
                    port.midi.close_port()
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
            with contextlib.suppress(Exception):
                thing.close_port()
                thing.delete()
        for probe in (self._probe_in, self._probe_out):
            if probe is not None:
                with contextlib.suppress(Exception):
                    probe.delete()
        self.inputs, self.outputs = [], []
