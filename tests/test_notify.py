"""sd_notify against a real Unix datagram socket, as systemd listens on one."""

import os
import socket

from jamd.daemon.notify import Notifier, watchdog_interval


def _listen(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    return sock


def test_ready_status_and_watchdog_reach_systemds_socket(tmp_path):
    server = _listen(tmp_path / "notify")
    notifier = Notifier(str(tmp_path / "notify"))
    assert notifier.ready("mode respond, model folk, 100 bpm")
    assert server.recv(4096) == b"READY=1\nSTATUS=mode respond, model folk, 100 bpm"
    assert notifier.watchdog()
    assert server.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert server.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_socket(tmp_path):
    name = f"jamd-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2)
    assert Notifier("@" + name).status("listening")
    assert server.recv(4096) == b"STATUS=listening"


def test_outside_systemd_notify_is_a_quiet_no_op(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled
    assert not Notifier().ready()
    # systemd gone (socket removed): no exception, just False.
    assert not Notifier(str(tmp_path / "gone")).watchdog()


def test_watchdog_pings_at_half_the_systemd_timeout(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 5.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None
