"""JACK test clients that live for the whole pytest run: closing a port while the JACK graph
changes can segfault libjack (daemon/jack_ports.py), and every test changes the graph. So the
tests' players are reconnected from one test to the next and closed once, at the end, a
settling pause apart (``close_all``, called by the ``jack_server`` fixture)."""

from __future__ import annotations

import os
import time

import rtmidi

from jamd.daemon.jack_ports import JACK_SETTLE_SECONDS

_clients: dict[tuple[str, str, str], object] = {}


def session_client(kind, name: str):
    """The one ``kind`` (an rtmidi MidiIn/MidiOut class) client called ``name`` on this JACK server."""
    key = (kind.__name__, name, os.environ.get("JACK_DEFAULT_SERVER", "default"))
    if key not in _clients:
        _clients[key] = kind(rtmidi.API_UNIX_JACK, name)
    return _clients[key]


def close_all() -> None:
    for client in _clients.values():
        time.sleep(JACK_SETTLE_SECONDS)
        if isinstance(client, rtmidi.MidiIn):
            client.cancel_callback()
        client.close_port()
        client.delete()
    _clients.clear()
