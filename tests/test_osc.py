"""OSC control: real UDP round trips on loopback with a real `jamd run` on JACK MIDI ports.

A test client sets and queries jamd's settings over OSC, subscribes and sees jamd's notes
(and the player's, and each answer) arrive as OSC, and sends garbage that jamd ignores.
"""

from __future__ import annotations

import signal
import socket
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from jamd.daemon.controls import BY_NAME
from jamd.daemon.osc import BadOsc, setting_value
from test_jack_e2e import CHANNEL, Jamd, Player, tune_events


# ---- what an OSC argument means (no sockets) ------------------------------------------------

def test_osc_arguments_become_setting_values_and_bad_ones_are_refused():
    assert setting_value(BY_NAME["temperature"], [0.7]) == 0.7
    assert setting_value(BY_NAME["tempo"], [90]) == 90.0  # an int is a number too
    assert setting_value(BY_NAME["mode"], ["duet"]) == "duet"
    assert setting_value(BY_NAME["mode"], [1]) == "next"  # TouchOSC sends numbers: the melody modes' index
    assert setting_value(BY_NAME["mute"], [1.0]) is True and setting_value(BY_NAME["mute"], [0]) is False
    assert setting_value(BY_NAME["panic"], []) is True
    assert setting_value(BY_NAME["panic"], [1.0]) is True
    assert setting_value(BY_NAME["panic"], [0.0]) is None  # the button's release: nothing to do
    for control, args, kind in (("tempo", [301.0], "range /jamd/tempo"), ("tempo", ["fast"], "type /jamd/tempo"),
                                ("temperature", [], "type /jamd/temperature"), ("mode", ["jazz"], "type /jamd/mode"),
                                ("mode", [7], "range /jamd/mode"), ("mode", ["chords"], "mode /jamd/mode"),
                                ("model", ["no-such-model"], "type /jamd/model"), ("panic", ["now"], "type /jamd/panic")):
        with pytest.raises(BadOsc) as caught:
            setting_value(BY_NAME[control], args)
        assert caught.value.kind == kind, (control, args)
    assert setting_value(BY_NAME["mode"], ["chords"], "chords") == "chords"
    with pytest.raises(BadOsc):
        setting_value(BY_NAME["mode"], ["duet"], "chords")  # a chords model plays only chords


# ---- a client on loopback and a real jamd ---------------------------------------------------

class Client:
    """An OSC client on 127.0.0.1 talking to jamd's ``port``; ``received`` collects (time, address, args)."""

    def __init__(self, port: int):
        self.jamd = ("127.0.0.1", port)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.received: list[tuple[float, str, list]] = []

    def send(self, address: str, *args) -> None:
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        self.socket.sendto(builder.build().dgram, self.jamd)

    def receive(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, _ = self.socket.recvfrom(65536)
            except socket.timeout:
                continue
            for timed in OscPacket(data).messages:
                self.received.append((time.monotonic(), timed.message.address, list(timed.message.params)))

    def query(self) -> dict[str, object]:
        self.received.clear()
        self.send("/jamd/query")
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not any(a == "/jamd/beats_per_bar" for _, a, _ in self.received):
            self.receive(0.1)
        return {address: args[0] for _, address, args in self.received}

    def close(self) -> None:
        self.socket.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def osc_jamd(jack_server, folk_model_path):
    port = free_port()
    jamd = Jamd(folk_model_path, "--osc", str(port), "--answer-after-bars", "0.5", "--answer-bars", "1")
    client = Client(port)
    yield jamd, client
    client.close()
    jamd.stop(signal.SIGTERM)


def test_mode_set_by_osc_is_read_back_by_the_query_and_plays(osc_jamd):
    jamd, client = osc_jamd
    assert client.query()["/jamd/mode"] == "respond"
    client.send("/jamd/mode", "next")
    client.send("/jamd/temperature", 0.5)
    client.send("/jamd/tempo", 132.0)
    settings = client.query()
    assert (settings["/jamd/mode"], settings["/jamd/temperature"], settings["/jamd/tempo"]) == ("next", 0.5, 132.0)
    assert settings["/jamd/model"] == "folk" and settings["/jamd/mute"] == 0
    # next mode answers each of the player's notes at once, where respond would wait for a pause.
    player = Player(jamd)
    try:
        time.sleep(0.5)  # a loaded JACK server takes a while to connect new ports
        began = time.monotonic()
        last = player.play(tune_events(2.0)[:-1])
        first = player.wait_note_on(began, timeout=5.0)
        print(f"\njamd's first note {first - began:.3f} s into a {last - began:.3f} s phrase")
        assert first < last, "jamd played only after the phrase, as respond mode does, not during it"
        client.send("/jamd/mute", 1)
        assert client.query()["/jamd/mute"] == 1
    finally:
        player.close()
    assert "switched to mode next" in jamd.log()


def test_garbage_and_bad_values_are_logged_once_per_kind_and_ignored(osc_jamd):
    jamd, client = osc_jamd
    for _ in range(3):
        client.socket.sendto(b"\x00\xffnot OSC at all", client.jamd)
        client.socket.sendto(b"/jamd/mode\x00\x00,s\x00", client.jamd)  # cut short: no string after the tag
        client.send("/jamd/nothing", 1)
        client.send("/jamd/tempo", 1000.0)
        client.send("/jamd/tempo", "fast")
        client.send("/jamd/mode", "jazz")
    client.send("/jamd/mode", "next")
    assert client.query()["/jamd/mode"] == "next"  # still listening, and the bad values changed nothing
    assert client.query()["/jamd/tempo"] == 120.0
    warnings = [line for line in jamd.lines if "OSC ignored" in line]
    print("".join(warnings))
    assert len(warnings) == 5, warnings  # unreadable, unknown address, tempo range, tempo type, mode type
    assert jamd.stop(signal.SIGINT) == 0
    assert "Traceback" not in jamd.log()


def test_a_subscriber_sees_the_notes_heard_and_played_and_each_answer(osc_jamd):
    jamd, client = osc_jamd
    client.send("/jamd/subscribe")
    assert client.query()["/jamd/mode"] == "respond"  # the subscription is in before the music starts
    player = Player(jamd)
    try:
        client.received.clear()
        events = tune_events(2.0)
        last = player.play(events)
        player.wait_note_on(last, timeout=5.0)
        client.receive(1.5)
    finally:
        player.close()
    heard = [args for _, address, args in client.received if address == "/jamd/heard"]
    played = [args for _, address, args in client.received if address == "/jamd/played"]
    answers = [args for _, address, args in client.received if address == "/jamd/answer"]
    sent_ons = [m.note for _, m in events if m.type == "note_on" and m.velocity]
    assert [note for note, velocity, _ in heard if velocity] == sent_ons
    jamd_ons = [m.note for _, m in player.note_ons(last)]
    osc_ons = [note for note, velocity, channel in played if velocity and channel == CHANNEL]
    assert jamd_ons and osc_ons[:len(jamd_ons)] == jamd_ons[:len(osc_ons)], (osc_ons, jamd_ons)
    assert answers == [[1]]
    client.send("/jamd/unsubscribe")
    client.query()
    client.received.clear()
    client.receive(0.5)
    assert not [a for _, a, _ in client.received if a in ("/jamd/heard", "/jamd/played")]


def test_the_pure_data_example_sets_jamd_and_shows_what_it_says(jack_server, folk_model_path):
    """examples/jamd-osc.pd, driven headless through its receive names: mode and tempo set, replies shown."""
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("pd") is None:
        pytest.skip("Pure Data not installed (apt-get install puredata-core)")
    for port in (9000, 9001):  # the patch's ports
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                pytest.skip(f"UDP port {port}, the example's, is taken")
    patch = Path(__file__).parents[1] / "examples" / "jamd-osc.pd"
    jamd = Jamd(folk_model_path, "--osc", "9000")
    client = Client(9000)
    try:
        proc = subprocess.Popen(["pd", "-nogui", "-nosound", "-nomidi", "-stderr", "-open", str(patch), "-send",
                                 "jamd-subscribe bang; jamd-mode duet; jamd-tempo 132; jamd-query bang"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and client.query().get("/jamd/tempo") != 132.0:
            time.sleep(0.1)
        settings = client.query()
        time.sleep(0.5)
        proc.terminate()
        printed = proc.communicate(timeout=10)[0]
    finally:
        client.close()
        jamd.stop(signal.SIGTERM)
    assert (settings["/jamd/mode"], settings["/jamd/tempo"]) == ("duet", 132.0)
    assert "jamd: mode duet" in printed and "jamd: tempo 132" in printed, printed


def test_a_taken_osc_port_or_an_empty_host_is_one_line_before_any_port_opens():
    import subprocess
    import sys

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "jamd.daemon.cli", "run", "--osc", str(port), "--backend", "jack"],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith(f"jamd: error: osc = {port} on osc_host = '127.0.0.1': cannot listen there")
    assert len(run.stderr.strip().splitlines()) == 1
    run = subprocess.run([sys.executable, "-m", "jamd.daemon.cli", "run", "--osc", "9000", "--osc-host", ""],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "setting 'osc_host' = '' is invalid (empty)" in run.stderr
