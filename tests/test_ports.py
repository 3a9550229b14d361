"""MIDI ports: name matching, backend choice and its errors, the `jamd` command line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jamd.daemon.errors import JamdError
from jamd.daemon.ports import is_own_port, match_port, new_devices, unavailable_reason

ALSA = ["Midi Through:Midi Through Port-0 14:0", "nanoKEY2:nanoKEY2 MIDI 1 20:0",
        "Arturia KeyStep 32:Arturia KeyStep 32 MIDI 1 24:0"]
JACK_NAMES = ["a2j:nanoKEY2 [20] (capture): nanoKEY2 MIDI 1", "qsynth:midi_00", "qsynth:midi_01"]


def jamd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jamd.daemon.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_port_matches_case_insensitive_substring_whatever_the_alsa_client_number():
    assert match_port("nanokey", ALSA) == "nanoKEY2:nanoKEY2 MIDI 1 20:0"
    replugged = [n.replace("20:0", "28:0") for n in ALSA]
    assert match_port("nanokey", replugged) == "nanoKEY2:nanoKEY2 MIDI 1 28:0"
    assert match_port("KEYSTEP", ALSA).startswith("Arturia")


def test_ambiguous_port_name_lists_the_candidates():
    with pytest.raises(JamdError) as e:
        match_port("qsynth", JACK_NAMES, "output")
    assert "ambiguous" in str(e.value) and "qsynth:midi_00" in str(e.value) and "qsynth:midi_01" in str(e.value)
    assert match_port("qsynth:midi_01", JACK_NAMES) == "qsynth:midi_01"


def test_exact_name_wins_over_longer_names_containing_it():
    assert match_port("qsynth:midi_00", JACK_NAMES + ["qsynth:midi_00 (2)"]) == "qsynth:midi_00"


def test_unknown_port_name_lists_the_available_ports():
    with pytest.raises(JamdError) as e:
        match_port("launchkey", ALSA)
    message = str(e.value)
    assert "no MIDI input port matches 'launchkey'" in message
    assert all(repr(n) in message for n in ALSA)
    with pytest.raises(JamdError, match="available output ports: none"):
        match_port("x", [], "output")


def test_jamd_never_connects_to_its_own_ports():
    assert is_own_port("jamd:jamd out") and is_own_port("jamd-01:jamd in")
    assert is_own_port("jamd:jamd in 129:0")
    assert not is_own_port("jamdrums:out") and not is_own_port("qsynth:midi_00")


def test_listening_to_every_device_leaves_out_the_one_jamd_plays_to_and_those_it_hears():
    through_out = "Midi Through:Midi Through Port-0 14:0"  # jamd plays to it: its input would echo jamd
    assert new_devices(ALSA, set(), [through_out]) == ALSA[1:]
    assert new_devices(ALSA, {ALSA[1]}, [through_out]) == [ALSA[2]]
    assert new_devices(ALSA, set(ALSA), []) == []


def test_backend_of_another_platform_is_unavailable_with_a_reason():
    if sys.platform == "darwin":
        pytest.skip("CoreMIDI exists here")
    reason = unavailable_reason("coremidi")
    assert "only on macOS" in reason and "--backend" in reason
    with pytest.raises(JamdError, match="unknown MIDI backend 'oss'"):
        unavailable_reason("oss")


@pytest.mark.parametrize("backend", ["alsa", "coremidi"])
def test_missing_backend_is_one_clear_line_and_exit_2(backend):
    if backend == "alsa" and os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer")
    if backend == "coremidi" and sys.platform == "darwin":
        pytest.skip("CoreMIDI exists on macOS")
    result = jamd("run", "--backend", backend)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"jamd: error: MIDI backend {backend}: ")
    assert "--backend jack" in lines[0]
    assert "Traceback" not in result.stderr


def test_every_command_has_help():
    for command in ([], ["run"], ["ports"], ["play"]):
        result = jamd(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "usage: jamd" in result.stdout
    run_help = jamd("run", "--help").stdout
    for flag in ("--model", "--mode", "--tempo", "--clock", "--backend", "--input", "--output", "--virtual",
                 "--channel", "--temperature", "--seed", "--stats", "--log-level", "--config"):
        assert flag in run_help


def test_bad_setting_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "jamd.toml"
    bad.write_text('tempo = "fast"\n')
    result = jamd("run", "--config", str(bad), "--backend", "jack")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "tempo" in result.stderr and "jamd.toml" in result.stderr


def test_the_daemon_imports_no_training_stack():
    code = ("import jamd.daemon.cli, jamd.daemon.service, jamd.daemon.ports, jamd.daemon.output, jamd.daemon.engine, jamd.daemon.model; "
            "import sys; "
            "heavy = [m for m in ('tensorflow', 'music21', 'keras', 'tf_keras') if m in sys.modules]; "
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.jack
def test_ports_lists_a_jack_client_and_says_why_alsa_is_missing(jack_server):
    rtmidi = pytest.importorskip("rtmidi")
    from jack_clients import session_client

    keyboard = session_client(rtmidi.MidiOut, "ports-test-keys")  # closed at the end (tests/jack_clients.py)
    if not keyboard.is_port_open():
        keyboard.open_virtual_port("keys")
    result = jamd("ports")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "jack:" in out and "ports-test-keys:keys" in out
    if not os.path.exists("/dev/snd/seq"):
        assert "alsa: unavailable: no ALSA sequencer" in out


@pytest.mark.jack
def test_full_input_queue_drops_and_counts_instead_of_blocking(jack_server, monkeypatch):
    rtmidi = pytest.importorskip("rtmidi")
    from jamd.daemon import ports as ports_module

    client = f"jamd-queue-test-{os.getpid()}"  # not another jamd on the same server
    monkeypatch.setattr(ports_module, "CLIENT", client)
    ports = ports_module.Ports("jack", (), "", virtual=True, maxsize=4)
    from jamd.daemon.jack_ports import ReconnectingMidiOut
    from jack_clients import session_client

    sender = session_client(ReconnectingMidiOut, "flood-test")  # closed at the end (tests/jack_clients.py)
    try:
        sender.open_port(next(i for i, n in enumerate(sender.get_ports())
                              if n.startswith(client) and n.endswith(":jamd in")))
        time.sleep(0.1)
        for note in range(10):
            sender.send_message([0x90, 60 + note, 100])
        deadline = time.monotonic() + 2
        while ports.queue.qsize() + ports.dropped < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ports.queue.qsize() == 4 and ports.dropped == 6
        data, received, index = ports.queue.get_nowait()
        assert data == [0x90, 60, 100] and index == 0 and received <= time.monotonic()
    finally:
        ports.close()


def test_play_writes_the_players_part_and_jamds_answer(folk_model_path, tmp_path):
    import mido

    out = tmp_path / "answer.mid"
    tune = Path(__file__).parent / "fixtures" / "nottingham" / "melody" / "ashover1.mid"
    result = jamd("play", str(tune), "-o", str(out), "--model", str(folk_model_path), "--seed", "1",
                  "--tempo", "120")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    tracks = mido.MidiFile(out).tracks
    assert len(tracks) == 2
    assert all(any(m.type == "note_on" and m.velocity for m in t) for t in tracks)


def test_stop_and_reload_signals_reach_jamd_not_a_thread_that_would_die_of_them():
    # numpy's OpenBLAS and onnxruntime start threads when imported or used; a SIGTERM delivered
    # to a thread that does not hold it back kills jamd before it can end its notes.
    code = """
from jamd.daemon.signals import block_signals
block_signals()
import jamd.daemon.cli, jamd.daemon.service, jamd.daemon.engine, numpy, onnxruntime, os
numpy.ones((256, 256)) @ numpy.ones((256, 256))
held = {1, 2, 15}  # SIGHUP, SIGINT, SIGTERM
for task in os.listdir("/proc/self/task"):
    status = open(f"/proc/self/task/{task}/status").read()
    mask = int(next(l for l in status.splitlines() if l.startswith("SigBlk:")).split()[1], 16)
    assert all(mask >> (n - 1) & 1 for n in held), (task, hex(mask))
print(len(os.listdir("/proc/self/task")))
"""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs Linux /proc")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 1, "expected numpy to have started threads"
