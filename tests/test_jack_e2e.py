"""The real `jamd run` on real JACK MIDI ports: a test client plays a folk tune into `jamd in`
and listens on `jamd out`.

Timings are measured and printed (pytest -s shows them); the only time bounds asserted are
musical ones a listener would notice (an answer after about a bar, notes on the grid within
a third of a step), never speed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Sequence

import mido
import pytest

from jamd.daemon.config import MELODY_MODES
from jamd.daemon.jack_ports import ReconnectingMidiIn, ReconnectingMidiOut
from jack_clients import session_client

rtmidi = pytest.importorskip("rtmidi")

pytestmark = pytest.mark.jack

FIXTURES = Path(__file__).parent / "fixtures"
TUNE = FIXTURES / "nottingham" / "melody" / "ashover1.mid"  # copied from ../shared/data/nottingham/MIDI
JACK = rtmidi.API_UNIX_JACK
CHANNEL = 2  # jamd's default output channel (1-based), 0x91 on the wire
CC_MODE, CC_MUTE, CC_PANIC = 22, 24, 25  # config defaults
NEXT_MODE = (2 * MELODY_MODES.index("next") + 1) * 64 // len(MELODY_MODES)  # the middle of next's band of CC values


def tune_events(seconds: float) -> list[tuple[float, mido.Message]]:
    """The tune's first ``seconds``: (time in seconds, message), every note ended by the cut."""
    out, t, sounding = [], 0.0, set()
    for msg in mido.MidiFile(TUNE):
        t += msg.time
        if t > seconds:
            break
        if msg.type in ("note_on", "note_off"):
            out.append((t, msg))
            if msg.type == "note_on" and msg.velocity:
                sounding.add(msg.note)
            else:
                sounding.discard(msg.note)
    out += [(seconds, mido.Message("note_off", note=n)) for n in sorted(sounding)]
    return out


def find_port(ports: list[str], client: str, name: str) -> int:
    """Index of ``client``'s port ``name`` (JACK may have added "-01" to the client name)."""
    hits = [i for i, p in enumerate(ports) if p.startswith(client) and p.endswith(":" + name)]
    assert len(hits) == 1, f"expected one port {client}:{name}, got {ports}"
    return hits[0]


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


class Jamd:
    """`jamd run` as a subprocess; ``lines`` collects its log."""

    count = 0

    def __init__(self, model: Path, *flags: str, env: dict | None = None, prefix: Sequence[str] = ()):
        # A client name of its own, so other jamds on the same JACK server (a developer's, a
        # parallel test run) are never mistaken for this one.
        Jamd.count += 1
        self.client = f"jamd-e2e-{os.getpid()}-{Jamd.count}"
        env = {"JAMD_CLIENT_NAME": self.client, **(env or {})}
        cmd = [*prefix, sys.executable, "-m", "jamd.daemon.cli", "run", "--backend", "jack", "--model", str(model),
               "--tempo", "120", "--seed", "1", *flags]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **(env or {})})
        # Never leave a jamd behind on the JACK server, whatever a test does with this object.
        weakref.finalize(self, _end, self.proc)
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        # A deadlock guard, not a speed bound: a loaded 2-core box took over 20 s to import numpy,
        # onnxruntime and aalink for a jamd under nice.
        if not self._ready.wait(90):
            self.stop(signal.SIGKILL)
            pytest.fail("jamd did not get ready:\n" + "".join(self.lines))

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if " ready: " in line:
                self._ready.set()

    def stop(self, signum=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log(self) -> str:
        return "".join(self.lines)


class Listening:
    """What an input test client heard while this object was the one listening."""

    def listen(self, midi) -> None:
        self.received: list[tuple[float, mido.Message]] = []
        if not hasattr(midi, "listener"):  # the first listener sets the one callback
            midi.ignore_types(sysex=True, timing=True, active_sense=True)
            midi.set_callback(lambda event, _: midi.listener and midi.listener.received.append(
                (time.monotonic(), mido.Message.from_bytes(event[0]))))
        midi.listener = self

    def stop_listening(self, midi) -> None:
        if midi.listener is self:
            midi.listener = None


class Player(Listening):
    """A JACK client wired to jamd: plays into `jamd in`, records what comes out of `jamd out`."""

    def __init__(self, jamd: Jamd):
        self.out = session_client(ReconnectingMidiOut, "e2e-player")
        self.out.open_port(find_port(self.out.get_ports(), jamd.client, "jamd in"), "play")
        self.inp = session_client(ReconnectingMidiIn, "e2e-listener")
        self.listen(self.inp)
        self.inp.open_port(find_port(self.inp.get_ports(), jamd.client, "jamd out"), "listen")
        time.sleep(0.1)  # JACK connects on its next graph change

    def play(self, events, speed: float = 1.0) -> float:
        """Send (seconds, message) at their times; return the time (monotonic) of the last one."""
        began = time.monotonic()
        for t, msg in events:
            time.sleep(max(0.0, began + t / speed - time.monotonic()))
            self.out.send_message(msg.bytes())
        return time.monotonic()

    def control(self, control: int, value: int) -> float:
        self.out.send_message(mido.Message("control_change", control=control, value=value).bytes())
        return time.monotonic()

    def note_ons(self, after: float = 0.0) -> list[tuple[float, mido.Message]]:
        return [(t, m) for t, m in list(self.received) if t >= after and m.type == "note_on" and m.velocity]

    def wait_note_on(self, after: float, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ons = self.note_ons(after)
            if ons:
                return ons[0][0]
            time.sleep(0.005)
        pytest.fail(f"no note-on from jamd within {timeout} s; got {self.received[-5:]}")

    def sounding(self, until: float = float("inf")) -> set[tuple[int, int]]:
        """(channel, note) jamd left on: note-ons received by ``until`` without a note-off after."""
        on: set[tuple[int, int]] = set()
        for t, m in list(self.received):
            if t > until:
                break
            if m.type == "note_on" and m.velocity:
                on.add((m.channel, m.note))
            elif m.type in ("note_on", "note_off"):
                on.discard((m.channel, m.note))
        return on

    def all_notes_off_after(self, t: float) -> bool:
        return any(m.is_cc(123) and m.channel == CHANNEL - 1 for when, m in list(self.received) if when >= t)

    def close(self) -> None:
        """Stop recording (the ports stay for the next test: tests/jack_clients.py)."""
        self.stop_listening(self.inp)


def settle_then_check_silent(player: Player, since: float, what: str) -> None:
    # The ends arrive within a JACK period or two; a loaded CI box may take longer.
    deadline = time.monotonic() + 3.0
    while (player.sounding() or not player.all_notes_off_after(since)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not player.sounding(), f"{what}: notes left on {player.sounding()}"
    assert player.all_notes_off_after(since), f"{what}: no CC123 on jamd's channel"


@pytest.fixture
def jamd_factory(jack_server, folk_model_path):
    started: list[Jamd] = []

    def start(*flags: str, env: dict | None = None) -> Jamd:
        started.append(Jamd(folk_model_path, *flags, env=env))
        return started[-1]
    yield start
    for jamd in started:
        jamd.stop(signal.SIGTERM)  # only if a test left it running


def test_answers_after_a_bar_of_silence_on_the_grid_and_sigterm_ends_every_note(jamd_factory):
    jamd = jamd_factory()
    player = Player(jamd)
    try:
        last = player.play(tune_events(4.0))
        first = player.wait_note_on(last, timeout=6.0)
        time.sleep(0.5)
        deadline = time.monotonic() + 3.0
        while not player.sounding() and time.monotonic() < deadline:  # mid-note of the 2-bar answer
            time.sleep(0.005)
        interrupted = player.sounding()
        stopped_at = time.monotonic()
        assert jamd.stop(signal.SIGTERM) == 0, jamd.log()
        time.sleep(0.1)
    finally:
        player.close()
    ons = player.note_ons(last)
    assert {m.channel for _, m in ons} == {CHANNEL - 1}
    step = 60.0 / 120 / 4
    # Distance of each note from jamd's grid, as heard here: it includes JACK's period (5.3 ms)
    # and this process's scheduling on a loaded machine, so the grid's phase is taken from the
    # note that puts most of the others nearest to it, not blindly from the first.
    def distances(anchor: float) -> list[float]:
        return sorted(abs((t - anchor) / step - round((t - anchor) / step)) * step for t, _ in ons)
    off = min((distances(t) for t, _ in ons), key=lambda d: d[len(d) // 2])
    median_off, worst_off = off[len(off) // 2], off[-1]
    silence = first - last
    print(f"\nanswer began {silence:.3f} s after the player stopped (one bar = 2.000 s); {len(ons)} notes "
          f"{median_off * 1e3:.1f} ms (median) and {worst_off * 1e3:.1f} ms (worst) from the grid "
          f"(a step is {step * 1e3:.0f} ms)")
    print([line.strip() for line in jamd.lines if "latency" in line or "timing" in line])
    assert 1.5 <= silence <= 3.0, f"answer after {silence:.2f} s of silence, expected about one bar (2 s)"
    assert median_off < step / 4, f"jamd's notes are off the grid by {median_off * 1e3:.1f} ms (median)"
    assert interrupted, "SIGTERM should have come while jamd held a note"
    assert not player.sounding(), f"notes left on after SIGTERM: {player.sounding()}"
    assert player.all_notes_off_after(stopped_at)
    assert "Traceback" not in jamd.log()


def test_every_note_on_gets_its_note_off_on_panic_mute_mode_switch_and_sigint(jamd_factory):
    jamd = jamd_factory("--tempo", "160", "--answer-after-bars", "0.5", "--answer-bars", "4")
    player = Player(jamd)
    phrase = tune_events(1.5)
    try:
        for what, control, value in (("panic", CC_PANIC, 127), ("mute", CC_MUTE, 127),
                                     ("mode switch", CC_MODE, NEXT_MODE)):
            player.control(CC_MUTE, 0)
            last = player.play(phrase)
            player.wait_note_on(last, timeout=5.0)
            time.sleep(0.2)
            at = player.control(control, value)
            settle_then_check_silent(player, at, what)
        # In next mode jamd echoes a predicted note after each of the player's: SIGINT mid-phrase.
        player.play(phrase[:-2])
        at = time.monotonic()
        assert jamd.stop(signal.SIGINT) == 0, jamd.log()
        settle_then_check_silent(player, at, "SIGINT")
    finally:
        player.close()
    assert "switched to mode next" in jamd.log()
    assert "Traceback" not in jamd.log()


KEYS = """
import signal, sys, rtmidi
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, sys.argv[1])
out.open_virtual_port("keys")

def quit(*_):
    out.delete()  # leave the JACK graph as a client does when it quits
    sys.exit(0)
signal.signal(signal.SIGTERM, quit)
print("ready", flush=True)
for line in sys.stdin:
    out.send_message([int(b) for b in line.split()])
"""


class Keys:
    """A USB keyboard stand-in: a separate JACK client process we can kill and bring back."""

    def __init__(self, client: str = f"e2e-keys-{os.getpid()}"):
        self.port = client + ":keys"
        self.proc = subprocess.Popen([sys.executable, "-c", KEYS, client], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def send(self, *data: int) -> None:
        self.proc.stdin.write(" ".join(map(str, data)) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGTERM: the client quits. (A SIGKILLed client stalls a --sync JACK server for its
        5 s client timeout, which would test JACK, not jamd.)"""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


def test_lost_input_device_is_reconnected_and_its_held_notes_ended(jamd_factory):
    keys = Keys()
    jamd = None
    player = None
    try:
        jamd = jamd_factory("--input", f"E2E-KEYS-{os.getpid()}", "--virtual", "--thru", "--mode", "next")
        player = Player(jamd)
        keys.send(0x90, 62, 100)  # held down when the cable is pulled
        player.wait_note_on(0.0, timeout=5.0)
        assert (0, 62) in player.sounding(), "thru should echo the player's note"
        lost_at = time.monotonic()
        keys.kill()
        deadline = time.monotonic() + 10.0  # jamd looks once a second; JACK may stall on a loaded box
        while (0, 62) in player.sounding() and time.monotonic() < deadline:
            time.sleep(0.02)
        ended = time.monotonic() - lost_at
        assert (0, 62) not in player.sounding(), "the lost keyboard's held note was never ended"

        keys = Keys()
        back_at = time.monotonic()
        while "input back" not in jamd.log() and time.monotonic() < back_at + 10.0:
            time.sleep(0.05)
        reconnected = time.monotonic() - back_at
        keys.send(0x90, 64, 100)
        keys.send(0x80, 64, 0)
        deadline = time.monotonic() + 5.0
        while not any(m.type == "note_on" and m.note == 64 and m.channel == 0 for _, m in player.received):
            assert time.monotonic() < deadline, "no thru echo after the keyboard came back:\n" + jamd.log()
            time.sleep(0.02)
        print(f"\nheld note ended {ended:.2f} s after the keyboard went away; reconnected in {reconnected:.2f} s")
        assert jamd.stop() == 0
    finally:
        keys.kill()
        if player:
            player.close()
    assert f"input lost: e2e-keys-{os.getpid()}:keys" in jamd.log()


def test_sighup_rereads_the_settings_and_a_bad_file_keeps_the_running_ones(jamd_factory, tmp_path):
    settings = tmp_path / "jamd.toml"
    settings.write_text('mode = "respond"\n')
    jamd = jamd_factory("--config", str(settings), "--virtual")
    settings.write_text('mode = "duet"\ntemperature = 0.5\n')
    jamd.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15  # generous: a loaded box, a JACK server busy with other clients
    while "reloaded" not in jamd.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    if "reloaded" not in jamd.log():
        jamd.proc.send_signal(signal.SIGUSR2)  # jamd prints its threads' stacks
        time.sleep(1)
    assert "reloaded: mode duet" in jamd.log(), jamd.log()
    settings.write_text('mode = "solo"\n')
    jamd.proc.send_signal(signal.SIGHUP)
    while "reload failed" not in jamd.log() and time.monotonic() < deadline + 15:
        time.sleep(0.05)
    assert "reload failed, keeping the running settings" in jamd.log() and "'mode' = 'solo'" in jamd.log()
    assert jamd.proc.poll() is None
    assert jamd.stop() == 0


def test_tells_systemd_ready_pings_the_watchdog_and_says_stopping(jamd_factory, tmp_path):
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(15)
    jamd = jamd_factory(env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
    messages = [listener.recv(4096).decode() for _ in range(3)]
    assert messages[0].startswith("READY=1\nSTATUS=mode respond, model ")
    assert "WATCHDOG=1" in messages[1:]
    assert jamd.stop() == 0
    rest = []
    listener.settimeout(0.5)
    with contextlib.suppress(TimeoutError, socket.timeout):
        while True:
            rest.append(listener.recv(4096).decode())
    assert "STOPPING=1" in rest


SYNTH = """
import sys, time, rtmidi
inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, sys.argv[1])
inp.ignore_types(sysex=True, timing=True, active_sense=True)
inp.set_callback(lambda event, _: print(" ".join(map(str, event[0])), flush=True))
inp.open_virtual_port("in")
print("ready", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


class Synth(Player):
    """A synth jamd plays to by name (--output): a JACK client process with one MIDI input port,
    so that it can live on a server of its own (empty_jack_server)."""

    def __init__(self):
        self.client = f"e2e-synth-{os.getpid()}"
        self.received = []
        self.proc = subprocess.Popen([sys.executable, "-c", SYNTH, self.client], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        threading.Thread(target=self._hear, daemon=True).start()

    def _hear(self) -> None:
        for line in self.proc.stdout:
            self.received.append((time.monotonic(), mido.Message.from_bytes([int(b) for b in line.split()])))

    def close(self) -> None:
        self.proc.stdin.close()
        _end(self.proc)


def wait_until(condition, timeout: float = 10.0) -> bool:
    # jamd looks for devices once a second; JACK may stall on a loaded box.
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_listening_to_every_device_waits_for_a_keyboard_and_follows_each_one_plugged_in(empty_jack_server,
                                                                                        jamd_factory):
    """No --input: a Pi boots jamd before the keyboard is plugged in, then the player swaps keyboards."""
    synth = Synth()
    keys = None
    try:
        jamd = jamd_factory("--output", synth.client, "--thru", "--mode", "next")
        assert "no MIDI input device on jack yet: waiting for one" in jamd.log()
        assert "in every device (none yet)" in jamd.log()
        for number in (1, 2):
            keys = Keys(f"e2e-keys-{os.getpid()}-{number}")
            assert wait_until(lambda: f"input new: {keys.port}" in jamd.log()), "not picked up:\n" + jamd.log()
            # Channel 12: no other test's player on a shared JACK server plays there.
            keys.send(0x9B, 62, 100)  # held down when the cable is pulled
            assert wait_until(lambda: (11, 62) in synth.sounding()), "no thru echo:\n" + jamd.log()
            keys.kill()
            assert wait_until(lambda: (11, 62) not in synth.sounding()), "held note never ended"
            assert f"input lost: {keys.port}" in jamd.log()
        assert jamd.stop() == 0
    finally:
        if keys:
            keys.kill()
        synth.close()
    log = jamd.log()
    picked_up = [line.split("input new: ")[1] for line in log.splitlines() if "input new: " in line]
    assert len(picked_up) == len(set(picked_up)), "a device was connected twice"
    assert not any(jamd.client in line for line in picked_up), "jamd listened to its own port"
    assert "Traceback" not in log


def test_harmonize_on_real_ports_writes_voices_under_the_melody_and_sigterm_ends_them(jack_server):
    piano = Path(__file__).parents[1] / "models" / "piano.onnx"
    jamd = Jamd(piano, "--mode", "harmonize")
    player = Player(jamd)
    try:
        began = time.monotonic()
        last = player.play(tune_events(3.0))
        try:
            player.wait_note_on(began, timeout=5.0)
        except BaseException:
            print(jamd.log())
            raise
        held = player.sounding()
        assert jamd.stop(signal.SIGTERM) == 0, jamd.log()
        time.sleep(0.1)
    finally:
        player.close()
    ons = player.note_ons(began)
    assert len(ons) >= 6, f"harmonize wrote {len(ons)} notes under a 3 s melody"
    assert {m.channel for _, m in ons} == {CHANNEL - 1}
    assert held or last, "nothing sounding mid-melody"
    assert not player.sounding(), f"notes left on after SIGTERM: {player.sounding()}"
