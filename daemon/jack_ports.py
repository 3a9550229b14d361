"""Closing a JACK MIDI port without crashing libjack.

libjack walks a client's port list on its notification thread after every graph change (a
device leaving, another client closing); unregistering a port from another thread meanwhile
frees the node it is walking: a segfault (jack2 #216; 1 in 60 to 300 closes on a loaded box
here). rtmidi unregisters the port before it closes the client, in ``close_port`` and in its
destructor alike. So while jamd runs it never closes a JACK port: JACK drops a lost device's
connection by itself, and ``open_port`` on the same object connects the port again. At exit,
each port is closed a settling pause after the graph's last change (no crash in 1,200 closes
on the same box). Leaving the clients to die with the process instead would stall a ``--sync``
JACK server for its client timeout (seconds of silence for every other client).
"""

from __future__ import annotations

import rtmidi

JACK_SETTLE_SECONDS = 0.25  # before each port closed at exit: the last change's notifications are done


class ReconnectingMidiIn(rtmidi.MidiIn):
    """A JACK input that ``open_port`` can connect again: rtmidi's JACK side registers its port
    once and connects it on every call; only python-rtmidi's own check refuses a second call."""

    def _check_port(self):
        return "input"


class ReconnectingMidiOut(rtmidi.MidiOut):
    __doc__ = ReconnectingMidiIn.__doc__.replace("input", "output")

    def _check_port(self):
        return "output"
