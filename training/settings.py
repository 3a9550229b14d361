"""Every setting ``jamd-train fit`` takes, for every model kind: one schema for the CLI and TOML.

``TrainSettings`` holds the defaults; ``KIND_DEFAULTS`` the few a kind changes (the chord model is
smaller). ``add_flags`` makes one flag per field (``--val-fraction``), ``from_values`` fills the
dataclass from a dict of flags and ``--config`` keys, the kind's defaults under what was given.
Steps are grid steps (tokens).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import asdict, dataclass, field

from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import KINDS


def _opt(default, help: str, choices=None):
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class TrainSettings:
    kind: str = _opt("melody", "melody: predict the next token; chords: the chord of the next beat from the "
                     "melody (data: the Nottingham MIDI folder with melody/ and chords/); poly: every note of "
                     "every part, each lasting on its own (piano pieces, chorales, melody + chords)", tuple(KINDS))
    steps_per_beat: int = _opt(4, "grid steps per quarter note")
    transpose: str = _opt("none", "'c': every song to C major/A minor, no augmentation; none: keep keys and "
                          "augment by transposition", ("none", "c"))
    limit: int = _opt(0, "read only the first N songs (quick trials); 0 = all")
    position: bool = _opt(True, "tell the model the bar position of every step (jamd-model/2); off = a v1 model")
    units: int = _opt(256, "LSTM units per layer")
    layers: int = _opt(1, "LSTM layers")
    embedding: int = _opt(64, "token embedding size")
    position_embedding: int = _opt(16, "embedding size of bar_step and of bar_steps each")
    dropout: float = _opt(0.0, "dropout on the LSTM's input and output while training")
    window: int = _opt(128, "training window, grid steps")
    batch: int = _opt(32, "windows per batch: small, an LSTM needs many updates more than big ones")
    lr: float = _opt(3e-3, "Adam learning rate")
    lr_patience: int = _opt(2, "epochs without a better validation loss before the learning rate halves")
    patience: int = _opt(5, "epochs without a better validation loss before stopping (the best weights are kept)")
    epochs: int = _opt(200, "at most this many epochs: a safety net, early stopping ends a run")
    val_fraction: float = _opt(0.1, "share of songs held out; near-duplicates (the same pitch intervals) "
                               "all go to one side")
    min_count: int = _opt(2, "a chord seen fewer times (over all transpositions) is left out of the vocabulary")
    shifts: tuple[int, ...] = _opt(tuple(range(-5, 7)), "augmentation transpositions, semitones")
    seed: int = _opt(1, "seed for the split, augmentation, window cuts, batches and weights")

    @property
    def augment(self) -> bool:
        return self.transpose != "c"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shifts"] = list(self.shifts)
        return data


KIND_DEFAULTS = {
    # Chosen on the validation loss (v2, bits/step): LSTM-128 with 64-step windows, no dropout 2.519;
    # 128-step windows and dropout 0.2: LSTM-128 2.272, LSTM-256 2.214 (per-beat chord = track
    # 0.539, 0.545, 0.555). The two last add only dropout to the melody models' defaults.
    "chords": {"dropout": 0.2},
    # A grid step is about three tokens: 256 tokens is some 5 bars of 4/4.
    "poly": {"window": 256},
}


def from_values(values: dict) -> TrainSettings:
    """Settings from flags and config keys (underscored names); the kind's defaults fill the rest."""
    names = {f.name for f in dataclasses.fields(TrainSettings)}
    given = {k: v for k, v in values.items() if k in names and v is not None}
    kind = given.get("kind", TrainSettings.kind)
    if kind not in KINDS:
        raise JamdError(f"kind {kind!r}: expected one of {tuple(KINDS)}")
    if isinstance(given.get("shifts"), list):
        given["shifts"] = tuple(given["shifts"])
    for name, value in given.items():
        want = type(getattr(TrainSettings, name))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            given[name] = float(value)
        elif not isinstance(given[name], want) or (want is int and isinstance(value, bool)):
            raise JamdError(f"setting '{name.replace('_', '-')}' should be {want.__name__}, got {value!r:.40}")
    return TrainSettings(**{**KIND_DEFAULTS.get(kind, {}), **given})


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, its help with the default (and a kind's own default)."""
    group = parser.add_argument_group("settings (also as keys of --config FILE)")
    for f in dataclasses.fields(TrainSettings):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        kinds = [f"{k}: {d[f.name]}" for k, d in KIND_DEFAULTS.items() if f.name in d]
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{f.metadata['help']} (default {shown}{'; ' + ', '.join(kinds) if kinds else ''})"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            group.add_argument(flag, type=_ints, default=None, metavar="N,N,...", help=help_text)
        else:
            group.add_argument(flag, type=type(default), default=None, choices=f.metadata["choices"],
                               help=help_text)


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None
