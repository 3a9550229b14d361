"""`jamd doctor`: finds a running jamd's ports on a real JACK server, tells whether anything is
connected to them and what to do when not; checks the model by loading it and stepping it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from daemon.doctor import alsa_connections, jack_connections

# `jack_lsp -c` as it printed here with a jamd, a player and a listener on a dummy server.
JACK_LSP = """system:capture_1
system:playback_1
jamd-soak-9120:jamd out
   soak-listener:RtMidi input
jamd-soak-9120-01:jamd in
soak-player:RtMidi output
   jamd-soak-9120-01:jamd in
"""

# `aconnect -l` (alsa-utils) layout: ports indented four spaces, their links by a tab.
ACONNECT = """client 0: 'System' [type=kernel]
    0 'Timer           '
\tConnecting To: 142:0
    1 'Announce        '
client 14: 'Midi Through' [type=kernel]
    0 'Midi Through Port-0'
client 128: 'jamd' [type=user,pid=4242]
    0 'jamd out        '
\tConnecting To: 130:0[real:0], 131:0
client 129: 'jamd' [type=user,pid=4242]
    0 'jamd in         '
"""


def doctor(*args: str, client: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "doctor", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "JAMD_CLIENT_NAME": client})


def test_jack_connections_are_the_indented_lines_under_each_port():
    graph = jack_connections(JACK_LSP)
    assert graph["jamd-soak-9120:jamd out"] == ["soak-listener:RtMidi input"]
    assert graph["jamd-soak-9120-01:jamd in"] == []
    assert graph["soak-player:RtMidi output"] == ["jamd-soak-9120-01:jamd in"]


def test_alsa_connections_name_client_port_and_address():
    graph = alsa_connections(ACONNECT)
    assert graph["jamd:jamd out (128:0)"] == ["130:0", "131:0"]
    assert graph["jamd:jamd in (129:0)"] == []
    assert graph["Midi Through:Midi Through Port-0 (14:0)"] == []


@pytest.mark.jack
def test_doctor_says_what_to_connect_until_player_and_synth_are_connected(jack_server, folk_model_path):
    from test_jack_e2e import Jamd, Player

    jamd = Jamd(folk_model_path, "--virtual")
    player = None
    try:
        alone = doctor("--backend", "jack", "--model", str(folk_model_path), client=jamd.client)
        print("\n" + alone.stdout)
        assert alone.returncode == 1
        assert f"{jamd.client}:jamd out: not connected" in alone.stdout
        assert "jamd in: not connected" in alone.stdout
        assert "nothing hears" in alone.stdout and "fluidsynth" in alone.stdout and "jack_connect" in alone.stdout
        assert "hears no player" in alone.stdout
        assert "model folk" in alone.stdout and " tokens, one step " in alone.stdout
        player = Player(jamd)
        wired = doctor("--backend", "jack", "--model", str(folk_model_path), client=jamd.client)
        print(wired.stdout)
        assert f"{jamd.client}:jamd out: connected to e2e-listener" in wired.stdout
        assert "jamd in: connected to e2e-player" in wired.stdout
        assert "nothing hears" not in wired.stdout and "hears no player" not in wired.stdout
    finally:
        if player:
            player.close()
        jamd.stop()


@pytest.mark.jack
def test_doctor_without_a_running_jamd_says_how_to_start_it(jack_server, folk_model_path):
    result = doctor("--backend", "jack", "--model", str(folk_model_path), client=f"jamd-nobody-{os.getpid()}")
    assert result.returncode == 1
    assert "jamd is not running: start it with `jamd run --backend jack`" in result.stdout


def test_doctor_reports_a_broken_model_with_the_fix_and_no_traceback(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    (tmp_path / "broken.json").write_text("{}")
    result = doctor("--backend", "alsa", "--model", str(broken), client="jamd")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "model " in result.stdout and "FAILED" in result.stdout
    assert "broken" in result.stdout.split("what to do:")[1]
    assert "Traceback" not in result.stdout + result.stderr
