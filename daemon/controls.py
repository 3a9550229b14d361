"""The live settings: what a MIDI CC or an OSC message may change while jamd plays.

One table (``CONTROLS``) gives each setting its name, its CC binding (a ``cc_*`` key of
daemon/config.py), its OSC address ``/jamd/NAME``, and how a CC value (0-127) or an OSC
argument becomes the setting's value. The engine's CC handling and the OSC server
(daemon/osc.py) both read it, and the README's CC and OSC tables are generated from it
(``python -m jamd.daemon.controls``; tests/test_controls.py checks the README matches).

A setting's value is what ``Engine.set(name, value, now)`` takes: a float, a mode name, a
bool (mute), a model index (``models/`` sorted by name, as Program Change counts), or
``True`` for the triggers (panic, tap, stm_reset), which have no value of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from jamd.daemon.config import FIELDS, MELODY_MODES, MODES

ON = 64  # switch-type controllers: values from 64 up mean on (MIDI convention)
PREFIX = "/jamd/"


def _band(value: int) -> int:
    """A CC value split in three equal bands: the index of one of the model's modes (melody models:
    respond, next, duet; poly models: respond, duet, harmonize), which the engine looks up."""
    return min(value * len(MELODY_MODES) // 128, len(MELODY_MODES) - 1)


def _pressed(value: int) -> bool | None:
    return True if value >= ON else None  # None: the release, nothing to do


@dataclass(frozen=True)
class Control:
    """One live setting. ``from_cc`` maps a CC value (0-127) to the setting's value, None = ignore."""

    name: str
    what: str  # what it changes, for the README
    cc: str | None  # the Config key of its CC, None if it has none
    cc_values: str
    osc_values: str
    kind: str  # OSC argument: "float" (in the config field's range), "mode", "bool", "trigger", "model"
    from_cc: Callable[[int], Any] | None = None

    @property
    def address(self) -> str:
        return PREFIX + self.name

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The allowed values of a float setting: its config field's range."""
        field = FIELDS.get(self.name)
        return field.metadata["range"] if field is not None and self.kind == "float" else None


CONTROLS: tuple[Control, ...] = (
    Control("temperature", "sampling temperature", "cc_temperature", "0–127 → 0.1–2.0", "float 0.0–5.0", "float",
            lambda v: round(0.1 + 1.9 * v / 127, 3)),
    Control("mode", "mode", "cc_mode", "three bands: the model's modes (" + ", ".join(MELODY_MODES)
            + "; piano: respond, duet, harmonize)",
            "string: " + ", ".join(MELODY_MODES) + " (or 0–2, the model's modes in order); chords with a chords "
            "model, harmonize with piano", "mode", _band),
    Control("answer_bars", "longest answer (`answer_bars`)", "cc_answer_bars", "0–127 → 1–8 bars", "float 0.25–32.0 bars", "float",
            lambda v: float(1 + round(7 * v / 127))),
    Control("mute", "mute jamd (it keeps listening)", "cc_mute", "≥ 64 on, < 64 off", "1 on, 0 off (int, float or "
            "bool)", "bool", lambda v: v >= ON),
    Control("panic", "all notes off, fresh model state", "cc_panic", "≥ 64", "no argument, or ≥ 0.5 (a button's "
            "press)", "trigger", _pressed),
    Control("tempo", "tempo (with `clock = \"link\"`: the session's)", "cc_tempo", "0–127 → 40–200 bpm",
            "float 20–300 bpm", "float", lambda v: 40 + 160 * v / 127),
    Control("tap", "tap tempo (also `tap_note`)", "cc_tap", "each ≥ 64 is a tap", "no argument, or ≥ 0.5",
            "trigger", _pressed),
    Control("stm_strength", "`stm_strength`: how much jamd follows your own phrases", "cc_stm", "0–127 → 0.0–1.0",
            "float 0.0–1.0", "float", lambda v: round(v / 127, 3)),
    Control("stm_reset", "forget the phrases learned this session", "cc_stm_reset", "≥ 64", "no argument, or ≥ 0.5",
            "trigger", _pressed),
    Control("model", "the model (Program Change *n*: the *n*-th in `models/`)", None, "", "string: a name in "
            "`models/`, or its index (int)", "model"),
)
# Addresses that are not settings: (name, argument, what jamd does), handled by daemon/osc.py.
REQUESTS = (
    ("query", "none, or a UDP port (int)", "sends every setting back as `/jamd/NAME value` (to the sender's port, or "
     "to that port on the sender's host), plus `/jamd/clock` and `/jamd/beats_per_bar`"),
    ("subscribe", "none, or a UDP port", "the same, then what jamd does (below) until `/jamd/unsubscribe`; up to 16 "
     "clients"),
    ("unsubscribe", "none, or a UDP port", "stops sending to that client"),
)
# What a subscriber is sent (daemon/osc_out.py): (address and arguments, when).
EVENTS = (
    ("heard NOTE VELOCITY CHANNEL", "each note-on and note-off (velocity 0) jamd hears"),
    ("played NOTE VELOCITY CHANNEL", "each note-on and note-off jamd plays on its channel"),
    ("answer N", "jamd begins its N-th answer"),
    ("barge_in N", "the player's N-th barge-in stops an answer"),
    ("chord NAME", "chords mode: the chord jamd will sound on the coming beat (\"\" = none)"),
    ("mode NAME, mute 0/1, model NAME, tempo BPM", "when they change (tempo at most four times a second)"),
)
BY_NAME = {c.name: c for c in CONTROLS}
BY_ADDRESS = {c.address: c for c in CONTROLS}


def for_cc(config, control: int) -> Control | None:
    """The setting bound to CC number ``control`` in ``config`` (the first, if two share it)."""
    for c in CONTROLS:
        if c.cc is not None and getattr(config, c.cc) == control:
            return c
    return None


def settings(engine) -> list[tuple[str, Any]]:
    """(OSC address, value) of every setting with a state, as the query answers: read on the engine thread."""
    c = engine.config
    return [(PREFIX + "mode", c.mode), (PREFIX + "temperature", c.temperature), (PREFIX + "answer_bars", c.answer_bars),
            (PREFIX + "mute", int(engine.muted)), (PREFIX + "tempo", round(engine.clock.tempo, 2)),
            (PREFIX + "stm_strength", c.stm_strength), (PREFIX + "model", engine.model.name),
            (PREFIX + "clock", c.clock), (PREFIX + "beats_per_bar", c.beats_per_bar)]


def cc_table() -> str:
    """The README's table of controllers (section "Modes and live controls")."""
    rows = ["| CC (default) | setting | values |", "| --- | --- | --- |"]
    for c in CONTROLS:
        if c.cc is not None:
            rows.append(f"| {FIELDS[c.cc].default} `{c.cc}` | {c.what} | {c.cc_values} |")
    return "\n".join(rows) + "\n"


def osc_table() -> str:
    """The README's table of OSC addresses (section "OSC")."""
    rows = ["| address | argument | sets | same as |", "| --- | --- | --- | --- |"]
    for c in CONTROLS:
        same = f"CC {FIELDS[c.cc].default} (`{c.cc}`)" if c.cc else "Program Change"
        rows.append(f"| `{c.address}` | {c.osc_values} | {c.what} | {same} |")
    for name, argument, what in REQUESTS:
        rows.append(f"| `{PREFIX}{name}` | {argument} | {what} | |")
    rows += ["", "| a subscriber gets | when |", "| --- | --- |"]
    rows += [f"| `{PREFIX}{message}` | {when} |" for message, when in EVENTS]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(cc_table())
    print(osc_table(), end="")
