"""jamd under systemd: the unit files verify, and a hung engine stops the watchdog pings.

READY/STATUS/WATCHDOG/STOPPING from a real `jamd run --backend jack` are in test_jack_e2e.py;
here the unit itself and what systemd's watchdog relies on: pings come from the engine
thread, so an engine stuck in a step goes quiet and systemd restarts jamd.
"""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jamd.daemon.config import Config

REPO = Path(__file__).parents[1]
UNIT = REPO / "systemd" / "jamd.service"
JACK_DROPIN = REPO / "systemd" / "jamd.service.d" / "jack.conf"
INSTALLED = "/opt/jamd/.venv/bin/jamd"


def _verify(unit_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit_dir / "jamd.service")],
                          capture_output=True, text=True, timeout=60, cwd=unit_dir)


def _install(tmp_path: Path, jamd: str, dropin: bool) -> Path:
    """The unit (and drop-in) as installed, ExecStart pointing at ``jamd`` instead of /opt."""
    (tmp_path / "jamd.service").write_text(UNIT.read_text().replace(INSTALLED, jamd))
    if dropin:
        (tmp_path / "jamd.service.d").mkdir()
        (tmp_path / "jamd.service.d" / "jack.conf").write_text(JACK_DROPIN.read_text().replace(INSTALLED, jamd))
        # The drop-in Requires= the user's own jack.service; a minimal one stands in for it.
        (tmp_path / "jack.service").write_text(f"[Service]\nExecStart={shutil.which('jackd') or '/bin/true'} -d dummy\n")
    return tmp_path


@pytest.fixture
def jamd_bin() -> str:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not found (not a systemd system)")
    path = REPO / ".venv" / "bin" / "jamd"
    if not path.exists():
        pytest.skip("no .venv/bin/jamd: run `make setup` first")
    return str(path)


@pytest.mark.parametrize("dropin", [False, True], ids=["alsa", "jack-dropin"])
def test_unit_passes_systemd_analyze_verify(tmp_path, jamd_bin, dropin):
    assert INSTALLED in UNIT.read_text(), "the unit's ExecStart should be the /opt/jamd install"
    result = _verify(_install(tmp_path, jamd_bin, dropin))
    # verify prints unknown keys and bad values as warnings with exit code 0: any output is a finding.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), \
        result.stderr + result.stdout


def test_verify_catches_a_wrong_execstart(tmp_path, jamd_bin):
    # The check above can fail: a unit whose ExecStart points nowhere does not verify.
    result = _verify(_install(tmp_path, str(tmp_path / "no-such-jamd"), dropin=False))
    assert result.returncode != 0 and "no-such-jamd" in result.stderr


def test_unit_is_notify_type_with_watchdog_reload_and_realtime_limit():
    text = UNIT.read_text()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "LimitRTPRIO="):
        assert line in text, f"{line} missing from {UNIT.name}"
    assert "WatchdogSec=" in text and "SupplementaryGroups=audio" in text
    # jamd's engine thread asks for SCHED_FIFO at service.RT_PRIORITY: the limit must allow it.
    from jamd.daemon.service import RT_PRIORITY

    limit = int(text.split("LimitRTPRIO=")[1].split()[0])
    assert limit >= RT_PRIORITY


class _Ports:
    """The parts of jamd.daemon.ports.Ports the service uses, without a MIDI backend."""

    def __init__(self):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.dropped = 0
        self.sent: list[list[int]] = []

    def send(self, data):
        self.sent.append(list(data))

    def poll(self):
        return []

    def describe(self):
        return "test: in none; out none"

    def close(self):
        pass


def test_hung_engine_stops_the_watchdog_pings_so_systemd_restarts_it(tmp_path, folk_model, monkeypatch):
    from jamd.daemon.engine import Engine
    from jamd.daemon.notify import Notifier
    from jamd.daemon.service import Service

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(0.2)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # pings every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    engine = Engine(Config(mode="duet", tempo=120.0, seed=1), folk_model, np.random.default_rng(1))
    hang, release, hanging = threading.Event(), threading.Event(), threading.Event()
    real_tick = engine.tick

    def tick(now):
        if hang.is_set():
            hanging.set()
            release.wait(30)  # an ONNX step that never returns, as far as systemd can tell
        return real_tick(now)
    engine.tick = tick
    service = Service(Config(mode="duet", tempo=120.0), _Ports(), engine,
                      notifier=Notifier(str(tmp_path / "notify")))

    def ping() -> bool:
        try:
            return listener.recv(64) == b"WATCHDOG=1"
        except (TimeoutError, socket.timeout):
            return False
    service._thread.start()
    try:
        # Running: the pings keep coming (three, however long a loaded box takes).
        healthy = 0
        for _ in range(50):
            healthy += ping()
            if healthy == 3:
                break
        hang.set()
        assert hanging.wait(10), "the engine thread never reached its next tick"
        while ping():  # what was sent before the hang began
            pass
        # Hung: not one ping over ten watchdog intervals (systemd restarts after one).
        hung = sum(ping() for _ in range(5))
    finally:
        release.set()
        service._controls.put(("stop", None))
        service._wake()
        service._thread.join(5)
    print(f"\nwatchdog pings: {healthy} running, {hung} hung")
    assert healthy == 3, "the engine thread should ping while it runs"
    assert hung == 0, "a hung engine thread must stop pinging"
    assert not service._thread.is_alive()


def _without_realtime() -> list[str]:
    """A command prefix under which SCHED_FIFO is refused, as for a user without LimitRTPRIO."""
    import os
    import resource

    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: cannot take away the right to real-time priority")
        return ["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice"]
    if resource.getrlimit(resource.RLIMIT_RTPRIO)[0] != 0:
        pytest.skip("this user may use real-time priority (RLIMIT_RTPRIO > 0)")
    return []


@pytest.mark.jack
def test_without_realtime_priority_jamd_says_so_once_and_plays_on(jack_server, folk_model_path):
    from test_jack_e2e import Jamd, Player, tune_events

    jamd = Jamd(folk_model_path, "--virtual", prefix=_without_realtime())
    player = Player(jamd)
    try:
        last = player.play(tune_events(3.0))
        player.wait_note_on(last, timeout=6.0)
        assert jamd.stop() == 0
    finally:
        player.close()
        jamd.stop()
    lines = jamd.lines
    log = jamd.log()
    assert sum("engine thread at normal priority" in line for line in lines) == 1, log
    assert "LimitRTPRIO" in log and "Traceback" not in log
