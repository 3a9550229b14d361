"""Every jamd setting, its default and its allowed values: one schema for TOML and the CLI.

``Config`` is the only place a default lives. ``load_config`` fills it from a TOML file
(flat ``key = value`` lines, names as below) and a dict of overrides; ``add_arguments``
gives the CLI one flag per field and ``config_from_args`` reads ``--config FILE`` (or
``/etc/jamd/jamd.toml`` when it exists) and then the flags the user actually typed.

Controller numbers (``cc_*``) are live controls on the input channel (every channel when
``input_channel`` is 0); 0 turns one off.
CC 120-127 are MIDI channel-mode messages, so bindings stop at 119.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import MELODY, MODES

DEFAULT_CONFIG_PATH = Path("/etc/jamd/jamd.toml")
MELODY_MODES = MELODY.modes  # for melody models; CC mode cycles through these
# MODES (daemon/kinds.py): every kind's modes; chords needs a chords model
CLOCKS = ("internal", "midi", "auto", "link")
BACKENDS = ("auto", "alsa", "jack", "coremidi", "winmm")
LOG_LEVELS = ("debug", "info", "warning", "error")


def _opt(default, help: str, choices=None, range=None, metavar=None, shown=None):
    """A field with its help text and its allowed ``choices`` or inclusive ``range``; ``shown``: what
    ``--help`` says the default is, when the value alone would mislead."""
    return field(default=default, metadata={"help": help, "choices": choices, "range": range, "metavar": metavar,
                                            "shown": shown})


@dataclass(frozen=True)
class Config:
    """jamd's settings. Times are in beats/bars of the grid, tempo in quarter notes per minute."""

    model: str = _opt("folk", "model name in models/ (folk, nottingham, piano) or a path to a .onnx", metavar="NAME")
    mode: str = _opt("respond", "respond: answer after you pause; next: echo a predicted next note; "
                     "duet: play along all the time; chords: play chords under your melody "
                     "(with a chords model, e.g. nottingham-chords); harmonize: alto, tenor and bass under "
                     "the melody you play (with a polyphonic model, piano)", choices=MODES)
    tempo: float = _opt(100.0, "internal clock tempo in beats per minute", range=(20.0, 300.0), metavar="BPM")
    clock: str = _opt("auto", "internal clock, follow incoming MIDI clock, auto (follow it once it arrives), or "
                      "link: follow an Ableton Link session's tempo and bars (needs aalink: pip install 'jamd[link]')",
                      choices=CLOCKS)
    backend: str = _opt("auto", "MIDI backend", choices=BACKENDS)
    input: tuple[str, ...] = _opt((), "input port names (substring match); none = every device, also "
                                  "those plugged in later", metavar="PORT")
    output: str = _opt("", "output port name (substring match); empty = first port", metavar="PORT")
    virtual: bool = _opt(False, "open virtual ports 'jamd in' and 'jamd out' for other programs to connect to, "
                         "besides any port named with --input/--output",
                         shown="on when neither --input nor --output is named, else off")
    channel: int = _opt(2, "MIDI channel jamd plays on", range=(1, 16), metavar="CH")
    input_channel: int = _opt(0, "only listen to this channel; 0 = all channels", range=(0, 16), metavar="CH")
    range: str = _opt("", "lowest and highest note jamd plays, as MIDI note numbers LOW-HIGH (e.g. 48-84, spanning "
                      "at least an octave); jamd's notes outside it move by octaves into it (a polyphonic model "
                      "draws only notes inside it); empty = no limit",
                      metavar="LOW-HIGH")
    key: str = _opt("", "the key you play in, e.g. G, Bb or F#m (m = minor), for the scale and chords jamd chooses "
                    "in harmonize and respond's last note; empty = the key jamd hears in your notes", metavar="KEY")
    temperature: float = _opt(1.0, "sampling temperature; 0 = always the likeliest token", range=(0.0, 5.0),
                              metavar="T")
    top_k: int = _opt(0, "sample only among the k likeliest tokens; 0 = all", range=(0, 10000), metavar="K")
    seed: int | None = _opt(None, "random seed for reproducible playing; unset = different every run",
                            range=(0, 2**32 - 1), metavar="N")
    stats: bool = _opt(False, "log message counts, drops and latencies every minute")
    record: str = _opt("", "folder to save each jam session in, as a two-track MIDI file (player, jamd), once "
                       "the player stops for 4 bars; empty = off", metavar="DIR")
    beats_per_bar: int = _opt(4, "beats per bar (sets the answer timing and the metronome accent)",
                              range=(1, 16), metavar="N")
    answer_after_bars: float = _opt(1.0, "respond mode: bars of player silence before jamd answers",
                                    range=(0.25, 16.0), metavar="BARS")
    answer_bars: float = _opt(2.0, "respond mode: longest answer in bars (an answer is as long as the phrase, "
                              "within this)", range=(0.25, 32.0),
                              metavar="BARS")
    chord_wait: float = _opt(0.03, "chords mode: seconds jamd waits after a beat to hear the melody note struck "
                             "on it before choosing the chord (at most half a grid step); 0 = choose before the beat",
                             range=(0.0, 0.1), metavar="SECONDS")
    program_channel: int = _opt(0, "channel whose Program Change n switches to the n-th model (sorted names); "
                                "0 = off: a keyboard or GM file sends Program Change on load", range=(0, 16),
                                metavar="CH")
    thru: bool = _opt(False, "echo the player's notes to the output on their own channel")
    metronome: bool = _opt(False, "click on every beat")
    infer_bar: bool = _opt(True, "on the internal clock without a count-off, find where the bar begins from "
                           "what you play: at each pause, the beat under which the model finds your phrase "
                           "likeliest becomes the downbeat (models told the bar position only)")
    count_off: bool = _opt(False, "click one bar (on the metronome channel and note) at start and after a reload, "
                           "and listen only after it; internal clock only")
    metronome_channel: int = _opt(10, "metronome channel (10 = General MIDI drums)", range=(1, 16), metavar="CH")
    metronome_note: int = _opt(37, "metronome note (37 = side stick)", range=(0, 127), metavar="NOTE")
    tap_note: int = _opt(0, "a note that taps the tempo instead of being played; 0 = off", range=(0, 127),
                         metavar="NOTE")
    cc_temperature: int = _opt(21, "CC that sets temperature (0-127 -> 0.1-2.0); 0 = off", range=(0, 119),
                               metavar="CC")
    cc_mode: int = _opt(22, "CC that picks the mode of a melody model (value split in equal bands, in the order "
                        + "/".join(MELODY_MODES) + "); 0 = off", range=(0, 119), metavar="CC")
    cc_answer_bars: int = _opt(23, "CC that sets answer length (0-127 -> 1-8 bars); 0 = off", range=(0, 119),
                               metavar="CC")
    cc_mute: int = _opt(24, "CC that mutes jamd (value >= 64) or unmutes it; 0 = off", range=(0, 119),
                        metavar="CC")
    cc_panic: int = _opt(25, "CC that silences everything and resets the model (value >= 64); 0 = off",
                         range=(0, 119), metavar="CC")
    cc_tempo: int = _opt(26, "CC that sets the tempo (0-127 -> 40-200 bpm); 0 = off", range=(0, 119),
                         metavar="CC")
    cc_tap: int = _opt(27, "CC that taps the tempo (each value >= 64 is a tap); 0 = off", range=(0, 119),
                       metavar="CC")
    stm_strength: float = _opt(0.25, "weight of the short-term model, which learns this session's phrases, against "
                               "the LSTM; 0 = LSTM only (see daemon/blend.py)", range=(0.0, 1.0), metavar="S")
    cc_stm: int = _opt(28, "CC that sets stm_strength (0-127 -> 0.0-1.0); 0 = off", range=(0, 119), metavar="CC")
    cc_stm_reset: int = _opt(29, "CC that makes jamd forget the phrases it learned this session (value >= 64); "
                             "0 = off", range=(0, 119), metavar="CC")
    osc: int = _opt(0, "UDP port to take OSC control on (addresses /jamd/..., see the README); 0 = off",
                    range=(0, 65535), metavar="PORT")
    osc_host: str = _opt("127.0.0.1", "address the OSC port listens on; 0.0.0.0 = every interface (anyone who "
                         "reaches the port can control jamd)", metavar="ADDR")
    log_level: str = _opt("info", "log verbosity", choices=LOG_LEVELS)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _checked(f, getattr(self, f.name)))

    def replace(self, **changes: Any) -> "Config":
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)


FIELDS = {f.name: f for f in dataclasses.fields(Config)}


def _allowed(f: dataclasses.Field) -> str:
    if f.metadata["choices"]:
        return "one of " + ", ".join(f.metadata["choices"])
    if f.metadata["range"]:
        low, high = f.metadata["range"]
        return f"{low} to {high}"
    return "a " + _kind(f).__name__


def _kind(f: dataclasses.Field) -> type:
    return type(f.default) if f.default is not None else int


def _checked(f: dataclasses.Field, value: Any) -> Any:
    """``value`` converted to the field's type; JamdError naming key, value and what is allowed."""
    def bad(why: str = "") -> JamdError:
        return JamdError(f"setting '{f.name}' = {value!r} is invalid{why}: expected {_allowed(f)}")

    if f.name == "seed" and value is None:
        return None
    kind = _kind(f)
    if kind is tuple:
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise JamdError(f"setting '{f.name}' = {value!r} is invalid: expected a list of port names")
        return tuple(value)
    # bool is an int in Python; a TOML `true` for a channel is a mistake, not 1.
    if kind is bool:
        if not isinstance(value, bool):
            raise bad()
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        value = float(value)
    elif not isinstance(value, str):
        raise bad()
    choices, bounds = f.metadata["choices"], f.metadata["range"]
    if choices and value not in choices:
        raise bad()
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise bad(" (out of range)")
    if f.name in ("model", "osc_host") and not value:  # an empty host would bind every interface
        raise bad(" (empty)")
    if f.name == "range" and value and pitch_range(value) is None:
        raise JamdError(f"setting 'range' = {value!r} is invalid: expected LOW-HIGH, MIDI notes 0-127 "
                        "spanning at least an octave, e.g. 48-84")
    if f.name == "key" and value and key_name(value) is None:
        raise JamdError(f"setting 'key' = {value!r} is invalid: expected a tonic A-G with # or b, and m for "
                        "minor, e.g. G, Bb, F#m")
    return value


def key_name(text: str) -> tuple[int, bool] | None:
    """(tonic pitch class, minor?) of a key written like ``G``, ``Bb``, ``F#m``; None if malformed."""
    text = text.strip()
    minor = text.endswith("m")
    tonic = text[:-1] if minor else text
    letters = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    if not tonic or tonic[0].upper() not in letters or tonic[1:] not in ("", "#", "b"):
        return None
    return (letters[tonic[0].upper()] + {"": 0, "#": 1, "b": -1}[tonic[1:]]) % 12, minor


def pitch_range(text: str) -> tuple[int, int] | None:
    """(low, high) MIDI notes from ``range`` ("48-84"); None if empty or malformed.

    At least an octave apart, so that every pitch class has a place to fold to.
    """
    low, sep, high = text.strip().partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        return None
    low_note, high_note = int(low), int(high)
    if not 0 <= low_note <= high_note <= 127 or high_note - low_note < 11:
        return None
    return low_note, high_note


def read_toml(path: Path, example: str | None = "systemd/jamd.toml.example") -> dict:
    """The key/value pairs of a TOML file; JamdError naming the file (and ``example``) if unreadable."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise JamdError(f"{path}: config file not found" + (f" (copy {example} there)" if example else "")) from None
    except OSError as e:
        raise JamdError(f"{path}: cannot read config file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise JamdError(f"{path}: not valid TOML ({e})" + (f"; see {example}" if example else "")) from None
    return data


def load_config(path: Path | None, overrides: dict | None = None) -> Config:
    """Settings from the TOML file at ``path`` (None = none), then ``overrides`` on top.

    Keys may be written with ``_`` or ``-``. Unknown keys and bad values raise JamdError
    naming the file, the key, the value and what is allowed.
    """
    values: dict[str, Any] = {}
    sources = [(f"{path}: ", read_toml(Path(path)) if path is not None else {}), ("", dict(overrides or {}))]
    for where, data in sources:
        for key, value in data.items():
            name = str(key).replace("-", "_")
            if name not in FIELDS:
                close = difflib.get_close_matches(name, FIELDS, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "known settings: " + ", ".join(FIELDS)
                raise JamdError(f"{where}unknown setting '{key}'; {hint}")
            try:
                values[name] = _checked(FIELDS[name], value)
            except JamdError as e:
                raise JamdError(f"{where}{e}") from None
    return Config(**values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` and one flag per Config field (``--answer-after-bars``, ...).

    Flags default to "not given" so that only what the user typed overrides the file.
    """
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=f"TOML settings file (default {DEFAULT_CONFIG_PATH} if it exists)")
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        meta = f.metadata
        default = "unset" if f.default is None else (list(f.default) if isinstance(f.default, tuple) else f.default)
        default = meta["shown"] or ('""' if default == "" else default)
        allowed = f"; {_allowed(f)}" if meta["range"] else ""
        help_text = f"{meta['help']} (default {default}{allowed})".replace("%", "%%")
        kind = _kind(f)
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        elif kind is tuple:
            parser.add_argument(flag, action="append", default=argparse.SUPPRESS, metavar=meta["metavar"],
                                help=help_text + "; repeat the flag for several")
        else:
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, metavar=meta["metavar"],
                                choices=meta["choices"], help=help_text, dest=name)


def example_toml() -> str:
    """``systemd/jamd.toml.example``: every key commented out at its default, with its help.

    Regenerate the file after changing the schema: ``python -m jamd.daemon.config > systemd/jamd.toml.example``.
    """
    def toml(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (str, tuple)):
            return json.dumps(list(value) if isinstance(value, tuple) else value)
        return repr(value)

    lines = ["# jamd settings: copy to /etc/jamd/jamd.toml and uncomment what you change.",
             "# Every key is shown at its default. Flags of `jamd run` override this file;",
             "# `systemctl reload jamd` re-reads it. Generated by `python -m jamd.daemon.config`.", ""]
    for name, f in FIELDS.items():
        allowed = f"; {_allowed(f)}" if f.metadata["range"] or f.metadata["choices"] else ""
        lines += ["# " + line for line in textwrap.wrap(f.metadata["help"] + allowed, 94)]
        if f.default is None:
            lines.append(f"#{name} = 1  # unset by default")
        else:
            lines.append(f"#{name} = {toml(f.default)}")
        lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def config_from_args(args: argparse.Namespace) -> Config:
    """Config from ``args.config`` (or the default file if it exists), then the flags given."""
    path = getattr(args, "config", None)
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    overrides = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    return load_config(path, overrides)


if __name__ == "__main__":
    print(example_toml(), end="")
