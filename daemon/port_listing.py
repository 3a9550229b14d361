"""The ports other programs offer on a backend, for ``jamd ports`` and ``jamd doctor``."""

from __future__ import annotations

import sys

import rtmidi

from jamd.daemon.backends import BACKENDS, api, quiet_stderr, unavailable_reason
from jamd.daemon.port_names import CLIENT, is_own_port


def list_ports(backend: str) -> tuple[list[str], list[str]]:
    """(input ports, output ports) other programs offer on ``backend``, jamd's own left out."""
    with quiet_stderr():
        probe_in, probe_out = rtmidi.MidiIn(api(backend), CLIENT), rtmidi.MidiOut(api(backend), CLIENT)
    try:
        return ([n for n in probe_in.get_ports() if not is_own_port(n)],
                [n for n in probe_out.get_ports() if not is_own_port(n)])
    finally:
        probe_in.delete()
        probe_out.delete()


def describe_ports(backend: str = "auto") -> str:
    """What ``jamd ports`` prints: each backend's inputs and outputs, or why it is unavailable."""
    names = [b for b in BACKENDS if b in ("alsa", "jack") or sys.platform in ("darwin", "win32")]
    if backend != "auto":
        names = [backend]
    lines = []
    for name in names:
        reason = unavailable_reason(name)
        if reason:
            lines.append(f"{name}: unavailable: {reason}")
            continue
        inputs, outputs = list_ports(name)
        lines.append(f"{name}:")
        lines.append("  inputs (jamd listens to these, --input):")
        lines += [f"    {n}" for n in inputs] or ["    (none)"]
        lines.append("  outputs (jamd plays to these, --output):")
        lines += [f"    {n}" for n in outputs] or ["    (none)"]
    return "\n".join(lines)
