"""MIDI port names, matched as pure functions: what ``--input``/``--output`` pick, which ports
are jamd's own, which devices listening to every one adds. No backend is touched here.
"""

from __future__ import annotations

import os
import re

from jamd.daemon.errors import JamdError

# The client name other programs see; set it to run two jamds side by side. Port names stay
# "jamd in"/"jamd out" so a patchbay still shows what they are.
CLIENT = os.environ.get("JAMD_CLIENT_NAME", "jamd")
VIRTUAL_IN = "jamd in"
VIRTUAL_OUT = "jamd out"


def match_port(pattern: str, names: list[str], kind: str = "input") -> str:
    """The one port in ``names`` whose name contains ``pattern`` (case-insensitive).

    ALSA client numbers change across replugs, so a substring is what users can rely on. An
    exact (case-insensitive) name wins over substrings; otherwise no match or several matches
    raise JamdError listing the ports there are.
    """
    wanted = pattern.casefold()
    hits = [n for n in names if wanted in n.casefold()]
    exact = [n for n in hits if n.casefold() == wanted]
    if len(exact) == 1 or (hits and len(set(hits)) == 1):
        return (exact or hits)[0]
    listing = ", ".join(repr(n) for n in names) or "none"
    if not hits:
        raise JamdError(f"no MIDI {kind} port matches '{pattern}'; available {kind} ports: {listing}")
    raise JamdError(f"MIDI {kind} port name '{pattern}' is ambiguous, it matches "
                    f"{', '.join(repr(n) for n in hits)}; give more of the name")


def new_devices(sources: list[str], heard: set[str], played_to: list[str]) -> list[str]:
    """The input ports in ``sources`` that listening to every device adds: those not ``heard``
    yet, except any port of a client jamd plays to (``played_to``: output port names). ALSA's
    "Midi Through" would loop jamd's own notes back in as the player's."""
    clients = {n.split(":")[0] for n in played_to}
    return [n for n in sources if n not in heard and n.split(":")[0] not in clients]


def is_own_port(name: str) -> bool:
    """True for jamd's own ports as other clients list them: "jamd:jamd out" on JACK (a second
    client becomes "jamd-01"), "jamd:jamd in 129:0" on ALSA. jamd never connects to itself."""
    return bool(re.match(rf"{re.escape(CLIENT)}(-\d+)?:jamd (in|out)\b", name))
