"""`jamd doctor`: finds a running jamd's ports on a real JACK server, tells whether anything is
connected to them and what to do when not; checks the model by loading it and stepping it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jamd.daemon.doctor import alsa_connections, jack_connections

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
    return subprocess.run([sys.executable, "-m", "jamd.daemon.cli", "doctor", *args], capture_output=True, text=True,
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
        assert "nothing hears" in alone.stdout and "jack_connect" in alone.stdout
        # What to connect: a synth input that is there (the test player's, left from an earlier
        # test), else how to start one.
        assert "e2e-listener:listen" in alone.stdout or "fluidsynth" in alone.stdout
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


SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


@pytest.fixture
def fluidsynth(jack_server):
    """A real FluidSynth on the JACK server, as the README and the doctor suggest starting it."""
    import shutil
    import time
    from pathlib import Path

    if shutil.which("fluidsynth") is None or not Path(SOUNDFONT).exists():
        pytest.skip("fluidsynth or its soundfont not installed (apt install fluidsynth fluid-soundfont-gm)")
    synth = subprocess.Popen(["fluidsynth", "-a", "jack", "-m", "jack", "-s", "-i", SOUNDFONT],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while "fluidsynth" not in _jack_lsp() and time.monotonic() < deadline:
        time.sleep(0.1)
    yield synth
    synth.terminate()
    synth.wait(timeout=10)


def _jack_lsp() -> str:
    return subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, timeout=10).stdout


def _suggested(stdout: str, problem: str) -> str:
    """The command in backticks at the end of the problem line that contains ``problem``."""
    line = next(line for line in stdout.splitlines() if problem in line)
    commands = [c for c in line.split("`")[1::2] if c.startswith("jack_connect ")]
    assert commands, f"no jack_connect command in: {line}"
    return commands[0]


@pytest.mark.jack
def test_doctor_commands_connect_jamd_to_a_real_fluidsynth_and_its_audio_to_the_speakers(fluidsynth,
                                                                                       folk_model_path):
    from test_jack_e2e import Jamd

    jamd = Jamd(folk_model_path, "--virtual")
    try:
        before = doctor("--backend", "jack", "--model", str(folk_model_path), client=jamd.client)
        print("\n" + before.stdout)
        command = _suggested(before.stdout, "nothing hears")
        synth_port = next(p for p in _jack_lsp().splitlines() if p.startswith("fluidsynth") and "midi" in p)
        assert synth_port in command, f"the command should name the synth's port as JACK lists it: {command}"
        subprocess.run(command, shell=True, check=True, timeout=10)  # pasted into a shell as printed
        graph = jack_connections(_jack_lsp())
        assert synth_port in graph[f"{jamd.client}:jamd out"], graph
        # The synth plays to nothing until its audio outputs are connected.
        middle = doctor("--backend", "jack", "--model", str(folk_model_path), client=jamd.client)
        assert "nothing hears" not in middle.stdout
        audio = _suggested(middle.stdout, "audio outputs")
        subprocess.run(audio, shell=True, check=True, timeout=10)
        graph = jack_connections(_jack_lsp())
        assert graph["system:playback_1"] and graph["system:playback_2"], graph
        after = doctor("--backend", "jack", "--model", str(folk_model_path), client=jamd.client)
        print(after.stdout)
        assert "audio outputs" not in after.stdout and "nothing hears" not in after.stdout
    finally:
        jamd.stop()
