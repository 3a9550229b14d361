"""Faults and bad input on the real `jamd run`: broken models at start and on reload, a flood and
garbage into `jamd in` on a real JACK server. jamd must answer one clear line (exit code 2)
for what a user can fix, and keep playing through whatever a MIDI cable can carry.

Lost and returning devices (a JACK client killed and started again) are in test_jack_e2e.py.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jamd.daemon.sidecar import sidecar_path

pytest.importorskip("rtmidi")
from test_jack_e2e import CHANNEL, Jamd, Player, tune_events  # noqa: E402  (real JACK helpers, one copy)

pytestmark = pytest.mark.jack


def _copy_model(source: Path, folder: Path, name: str) -> Path:
    shutil.copy(source, folder / f"{name}.onnx")
    shutil.copy(sidecar_path(source), folder / f"{name}.json")
    return folder / f"{name}.onnx"


def _edit_sidecar(path: Path, change) -> None:
    data = json.loads(sidecar_path(path).read_text())
    change(data)
    sidecar_path(path).write_text(json.dumps(data))


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _vocabulary_short(data: dict) -> None:
    data["vocabulary"] = data["vocabulary"][:-5]  # trained on 5 tokens more than it now names


FAULTS = {
    # name: (make the bad model from a good copy, words the one line must contain)
    "missing file": (lambda p: p.unlink(), ["missing.onnx"]),
    "truncated onnx": (_truncated, ["truncated onnx.onnx", "not a loadable ONNX model"]),
    "not onnx at all": (lambda p: p.write_text("<html>404</html>"), ["not a loadable ONNX model"]),
    "missing sidecar": (lambda p: sidecar_path(p).unlink(), ["sidecar not found"]),
    "sidecar state does not match the onnx inputs":
        (lambda p: _edit_sidecar(p, lambda d: d["state"][0].update(input="hidden")), ["sidecar names inputs"]),
    "vocabulary mismatch": (lambda p: _edit_sidecar(p, _vocabulary_short), ["vocabulary size is"]),
    "sidecar not json": (lambda p: sidecar_path(p).write_text("{format: "), [".json"]),
}


def _run(*args: str, client: str, timeout: float = 60) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "jamd.daemon.cli", "run", "--backend", "jack", "--virtual", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "JAMD_CLIENT_NAME": client})


@pytest.mark.parametrize("fault", list(FAULTS))
def test_broken_model_at_start_is_one_line_and_exit_2(jack_server, folk_model_path, tmp_path, fault):
    make, words = FAULTS[fault]
    name = "missing" if fault == "missing file" else fault.split(" ")[0] + " onnx"
    path = _copy_model(folk_model_path, tmp_path, name)
    make(path)
    result = _run("--model", str(path), client=f"jamd-fault-{tmp_path.name}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("jamd: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_broken_model_on_reload_keeps_the_running_one_playing(jack_server, folk_model_path, tmp_path):
    good = _copy_model(folk_model_path, tmp_path, "good")
    jamd = Jamd(good, "--virtual", "--mode", "next")
    player = Player(jamd)
    try:
        _truncated(good)
        jamd.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while "reload failed" not in jamd.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "reload failed, keeping the running settings" in jamd.log(), jamd.log()
        assert "not a loadable ONNX model" in jamd.log()
        last = player.play(tune_events(2.0))
        player.wait_note_on(last - 2.0, timeout=5.0)  # next mode echoes while the player plays
        assert jamd.proc.poll() is None
        assert jamd.stop() == 0
    finally:
        player.close()
        jamd.stop()
    assert "Traceback" not in jamd.log()


def _garbage(rng: random.Random) -> list[list[int]]:
    """What a bad cable, a confused controller or a sloppy sequencer sends; each item one message."""
    out: list[list[int]] = []
    out += [[rng.randrange(256) for _ in range(rng.randint(1, 3))] for _ in range(500)]  # random bytes
    out += [[0xF0, *[rng.randrange(128) for _ in range(n)], 0xF7] for n in range(0, 300)]  # sysex, every length
    out += [[0x90, 60, 100], [62, 100], [64, 100], [60, 0], [62, 0], [64, 0]]  # running status
    out += [[0x90 | ch, 30 + ch, 90] for ch in range(16)]  # note-on on 16 channels at once...
    out += [[0x80 | ch, 30 + ch, 0] for ch in range(16)]  # ...and their ends
    out += [[0x80, 71, 0], [0x83, 72, 64]]  # note-off without note-on
    out += [[0x90, 65, 100], [0x90, 65, 0]]  # velocity-0 note-on as the note-off
    out += [[0x90, n, 100] for n in (0, 1, 12, 120, 127)] + [[0x80, n, 0] for n in (0, 1, 12, 120, 127)]  # out of range
    out += [[0xF8]] * 48 + [[0xFC], [0xFB], [0xF2, 0, 0], [0xF3, 5], [0xFE], [0xFF]]  # clock without start, realtime
    out += [[0xB0, 64, 127], [0xB0, 64, 0], [0xE0, 0, 64], [0xD0, 50], [0xC0, 3]]  # sustain, bend, pressure, program
    return out


def _stats(log: str) -> dict:
    match = re.findall(r"stats: (\d+) in \((\d+) unreadable, (\d+) dropped, queue max (\d+)\), (\d+) out", log)
    assert match, "no stats line in jamd's log:\n" + log[-2000:]
    return dict(zip(("in", "unreadable", "dropped", "queue_max", "out"), map(int, match[-1])))


def test_flood_and_garbage_into_jamd_in_then_it_answers_normally(jack_server, folk_model_path):
    jamd = Jamd(folk_model_path, "--virtual", "--answer-after-bars", "1")
    player = Player(jamd)
    rng = random.Random(7)
    try:
        began = time.monotonic()
        for i in range(5000):  # 10,000 messages: note-on/off pairs on every channel, any pitch
            channel, note = rng.randrange(16), rng.randrange(128)
            player.out.send_message([0x90 | channel, note, 1 + rng.randrange(127)])
            player.out.send_message([0x80 | channel, note, 0])
        flood_seconds = time.monotonic() - began
        for message in _garbage(rng):
            player.out.send_message(message)
        # Stuck notes would hold the player's part "sounding" forever: a keyboard's panic ends them.
        for channel in range(16):
            for note in range(128):
                player.out.send_message([0x80 | channel, note, 0])
        time.sleep(2.0)
        assert jamd.proc.poll() is None, jamd.log()
        last = player.play(tune_events(4.0))
        first = player.wait_note_on(last, timeout=8.0)
        time.sleep(0.3)
        assert jamd.stop() == 0, jamd.log()
        time.sleep(0.1)
    finally:
        player.close()
        jamd.stop(signal.SIGKILL)
    stats = _stats(jamd.log())
    answer = [m for t, m in player.note_ons(last)]
    print(f"\nflood of 10,000 sent in {flood_seconds * 1e3:.0f} ms; jamd: {stats}; answer began "
          f"{first - last:.2f} s after the player stopped, {len(answer)} notes")
    assert stats["in"] + stats["dropped"] >= 5000, "the flood never reached jamd"
    assert stats["unreadable"] > 0, "random bytes should have been counted as unreadable"
    assert stats["queue_max"] <= 4096  # the bound holds
    # Stray and bunched pulses are no tempo (daemon/clock.py): auto clock is back on jamd's own
    # 120 bpm (Jamd's --tempo), and jamd waited for the player's pause (a bar, 2 s, less a 125 ms
    # step) to answer.
    grid = re.findall(r"grid ([\d.]+) bpm \(([\w ]+)\)", jamd.log())
    assert grid and grid[-1] == ("120.0", "internal clock"), grid
    assert first - last >= 2.0 - 0.125, "jamd answered into the player's phrase"
    assert {m.channel for m in answer} == {CHANNEL - 1}
    assert not player.sounding(), f"notes left on: {player.sounding()}"
    assert sum(" engine thread " in line for line in jamd.lines) == 1, "one line on the engine's priority"
    assert "Traceback" not in jamd.log()


def test_reload_ends_the_notes_sounding_then_plays_on_with_the_new_settings(jack_server, folk_model_path, tmp_path):
    from test_jack_e2e import settle_then_check_silent

    settings = tmp_path / "jamd.toml"
    settings.write_text('mode = "duet"\n')
    jamd = Jamd(folk_model_path, "--config", str(settings), "--virtual", "--answer-after-bars", "0.5")
    player = Player(jamd)
    try:
        phrase = tune_events(6.0)  # duet joins after the fourth note (3.0 s); respond hears the rest
        began = time.monotonic()
        playing = threading.Thread(target=player.play, args=(phrase,))
        playing.start()
        deadline = time.monotonic() + 5
        while not {n for n in player.sounding() if n[0] == CHANNEL - 1} and time.monotonic() < deadline:
            time.sleep(0.005)
        sounding = {n for n in player.sounding() if n[0] == CHANNEL - 1}
        settings.write_text('mode = "respond"\n')
        at = time.monotonic()
        jamd.proc.send_signal(signal.SIGHUP)
        playing.join()
        settle_then_check_silent(player, at, "reload")
        assert "reloaded: mode respond" in jamd.log(), jamd.log()
        last = time.monotonic()
        player.wait_note_on(last, timeout=6.0)  # the new settings answer after a pause
        assert jamd.stop() == 0
    finally:
        player.close()
        jamd.stop()
    assert sounding, f"jamd should have been playing along in duet mode {time.monotonic() - began:.1f} s in"
    ended = [m for t, m in player.received if t >= at and m.type in ("note_off", "note_on") and not m.velocity]
    assert all(any(m.note == note for m in ended) for _, note in sounding), "a sounding note was not ended"
    assert "Traceback" not in jamd.log()
