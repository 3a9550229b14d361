"""The ``jamd-train`` command: ``fit`` (corpus -> model -> ONNX + sidecar), ``generate`` (a MIDI sample).

Each subcommand is an ``add_X_parser(subparsers)`` that sets ``func`` to its handler
(``handler(args) -> exit code``). Every subcommand takes ``--config FILE``: a TOML file with the
same keys as its flags (``val-fraction`` or ``val_fraction``), at top level or under a table named
after the subcommand; flags given on the command line win. Errors a user can act on (JamdError)
print as one line, ``jamd-train: error: ...``, exit code 2. TensorFlow is imported only by
``fit``, so ``--help`` and ``generate`` answer quickly.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path
from typing import Sequence

from jamd.daemon.config import read_toml
from jamd.daemon.errors import JamdError

# What the train extra adds to the light runtime (`make run`, the Pi guide): a command that
# needs one of these says so in one line instead of a ModuleNotFoundError traceback.
TRAIN_EXTRA = ("tensorflow", "tf_keras", "tf2onnx", "onnx", "music21", "matplotlib", "tqdm")
SCORE_SUFFIXES = (".krn", ".abc", ".xml", ".musicxml", ".mxl")  # read through music21


def install_hint(module: str, what: str) -> str:
    return (f"{what} needs {module}, which the light install leaves out: install the train extra, "
            "pip install 'jamd[train]' (in a checkout: make setup-train)")


def require(module: str, what: str) -> None:
    """JamdError (one line) if ``module`` of the train extra cannot be imported."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        if (e.name or module).split(".")[0] != module:
            raise  # the module is there but broken: its own error says more
        raise JamdError(install_hint(module, what)) from None


def read_config(args: argparse.Namespace) -> dict:
    """``--config`` TOML keys (underscored) for ``args.command``; empty without ``--config``."""
    if not getattr(args, "config", None):
        return {}
    path = Path(args.config)
    data = read_toml(path, example=None)
    if isinstance(data.get(args.command), dict):
        data = data[args.command]
    known = {a.dest for a in args._parser._actions} - {"help", "config", "_parser"}
    config = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise JamdError(f"{path}: unknown key '{key}' for `jamd-train {args.command}`; "
                            f"known: {', '.join(sorted(k.replace('_', '-') for k in known))}")
        config[name] = value
    return config


def merged(args: argparse.Namespace) -> dict:
    """Flags given on the command line over ``--config`` keys; unset ones left out (defaults apply)."""
    values = read_config(args)
    # An absent nargs="*" positional parses as [], which must not hide the config's list.
    values.update({k: v for k, v in vars(args).items() if v not in (None, []) and not k.startswith("_")})
    return values


def _settings(cls, values: dict):
    """An instance of the settings dataclass ``cls`` from the keys of ``values`` it has."""
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in fields})


def add_destination_flags(p: argparse.ArgumentParser, workdir_holds: str) -> None:
    """``--name``, ``-o/--output``, ``--workdir``: where a trained model and its run files go."""
    p.add_argument("--name", help="model name (default: the stem of -o)")
    p.add_argument("-o", "--output", help="the .onnx to write (default: models/NAME.onnx)")
    p.add_argument("--workdir", help=f"{workdir_holds} (default: runs/NAME)")


def destination(values: dict, command: str) -> tuple[str, Path, Path]:
    """(name, .onnx path, workdir) from ``add_destination_flags``' values; one of name or -o is needed."""
    output = values.get("output")
    name = values.get("name") or (Path(output).stem if output else None)
    if not name:
        raise JamdError(f"{command} needs --name NAME or -o models/NAME.onnx")
    return name, Path(output or f"models/{name}.onnx"), Path(values.get("workdir") or f"runs/{name}")


def add_fit_parser(sub) -> None:
    from jamd.training.settings import add_flags

    for command in ("fit", "fit-chords"):
        chords = command == "fit-chords"
        p = sub.add_parser(command, help="the same as `fit --kind chords`" if chords else
                           "train a model on a corpus and export it as ONNX + sidecar",
                           description="Read DATA (files, directories, music21:NAME; for --kind chords the "
                           "Nottingham MIDI folder), train an LSTM until its validation loss stops improving, "
                           "export the single-step ONNX model and its .json sidecar after a parity check.")
        p.add_argument("data", nargs="*", metavar="DATA",
                       help="corpus files or directories (.krn .abc .mid .xml), or music21:NAME")
        add_destination_flags(p, "checkpoints, train.csv, loss/accuracy plots")
        p.add_argument("--resume", action="store_true", help="go on from the run in --workdir (its best "
                       "weights, epochs and learning rate): for a fit longer than one sitting")
        add_flags(p)
        p.set_defaults(func=fit_command, **({"kind": "chords"} if chords else {}))


def fit_command(args: argparse.Namespace) -> int:
    from jamd.training.settings import from_values

    values = merged(args)
    data = values.get("data") or []
    data = [data] if isinstance(data, str) else data
    settings = from_values(values)
    if not data:
        example = "../shared/data/nottingham/MIDI" if settings.kind == "chords" else "../shared/data/essen-kern/deutschl"
        raise JamdError(f"fit needs DATA: corpus files or directories, e.g. {example}")
    name, output, workdir = destination(values, "fit")
    require("tensorflow", "`jamd-train fit`")
    # TensorFlow takes seconds to import: only once the arguments are known to be usable.
    from jamd.training.export import export
    from jamd.training.tasks import TASKS, load_songs
    from jamd.training.train import fit

    songs, corpus = load_songs(settings, data)
    result = fit(TASKS[settings.kind](songs, settings), settings, workdir, resume=bool(values.get("resume")))
    metrics, extra = dict(result.metrics), {}
    if settings.kind == "chords":
        from jamd.training.chords import held_out

        more, extra = held_out(result)
        metrics.update(more)
    if settings.kind == "poly":  # harmonize's prior: the chords the training chorales put under each degree
        from jamd.training.harmonize_report import degree_chords

        extra = {"degree_chords": degree_chords([s.name for s in result.task.train_songs
                                                  if s.name.startswith("music21:bach/")])}
    check = max(result.task.val_songs[:20], key=lambda s: len(s.tokens))  # a long one: drift shows over time
    sidecar = export(
        result.model, result.config, result.task.vocab, check.tokens, output, check.positions(),
        name=name, kind=settings.kind, steps_per_beat=settings.steps_per_beat, corpus=corpus,
        training={**settings.to_dict(), "train_songs": len(result.task.train_songs),
                  "validation_songs": [s.name for s in result.task.val_songs], "history": result.history},
        metrics=metrics, extra=extra,
    )
    m = sidecar.metrics
    onset = f", onset accuracy {m['val_onset_accuracy']:.3f}" if "val_onset_accuracy" in m else ""
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB) and its sidecar: validation "
          f"{m['val_bits_per_step']:.3f} bits/step, accuracy {m['val_accuracy']:.3f}{onset}, {m['epochs']} epochs "
          f"(best {m['best_epoch']}, stopped {m['stopped']}), {m['tokens_per_s']:,} training tokens/s; "
          f"parity {m['parity_max_abs_logit_diff']:.1e}")
    return 0


def add_generate_parser(sub) -> None:
    from jamd.training.generate import GenerateSettings

    d = GenerateSettings()
    p = sub.add_parser("generate", help="continue the opening of a song with a model, write a MIDI file",
                       description="Prime an exported model (ONNX + sidecar, no TensorFlow) with the first "
                       "bars of a real song and sample a continuation; the MIDI file has two tracks.")
    p.add_argument("model", nargs="?", help="model name (models/NAME.onnx) or .onnx path")
    p.add_argument("--prime", help="song file to take the opening from (.krn .abc .mid .xml)")
    p.add_argument("-o", "--output", help="MIDI file to write")
    p.add_argument("--prime-bars", type=int, help=f"bars of the song fed first (default {d.prime_bars})")
    p.add_argument("--bars", type=int, help=f"bars to generate (default {d.bars})")
    p.add_argument("--beats-per-bar", type=int, help="quarter notes per bar (default: the prime's own bars "
                   "and time signatures)")
    p.add_argument("--temperature", type=float, help=f"sampling temperature, 0 = greedy (default {d.temperature})")
    p.add_argument("--top-k", type=int, help=f"sample among the k likeliest tokens, 0 = all (default {d.top_k})")
    p.add_argument("--seed", type=int, help="sampling seed (default: a different sample each run)")
    p.add_argument("--bpm", type=float, help="tempo of the MIDI file (default: a MIDI prime's own, else 120)")
    p.add_argument("--plot", metavar="OUT.png", help="also draw a piano roll of prime and continuation")
    p.add_argument("--wav", metavar="OUT.wav", help="also render the MIDI file to audio (training/render.py)")
    p.set_defaults(func=generate_command)


def generate_command(args: argparse.Namespace) -> int:
    from jamd.training.generate import GenerateSettings, generate

    values = merged(args)
    for key, flag in (("model", "MODEL"), ("prime", "--prime FILE"), ("output", "-o OUT.mid")):
        if not values.get(key):
            raise JamdError(f"generate needs {flag}")
    settings = _settings(GenerateSettings, values)
    if settings.prime_bars < 1 or settings.bars < 1 or settings.beats_per_bar < 0:
        raise JamdError("--prime-bars and --bars must be at least 1, --beats-per-bar at least 1 (or 0: the prime's)")
    # Checked before anything is written, not after the MIDI file is.
    if Path(values["prime"]).suffix.lower() in SCORE_SUFFIXES:
        require("music21", f"a {Path(values['prime']).suffix} prime")
    if values.get("plot"):
        require("matplotlib", "--plot")
    summary = generate(values["model"], values["prime"], Path(values["output"]), settings)
    print(f"wrote {values['output']}: {summary['prime_notes']} notes of {summary['prime']} + "
          f"{summary['notes']} generated notes ({summary['steps']} grid steps)")
    if values.get("plot"):
        from jamd.daemon.model import resolve_model
        from jamd.daemon.sidecar import load_sidecar, sidecar_path
        from jamd.training.plots import plot_generated

        spb = load_sidecar(sidecar_path(resolve_model(values["model"]))).steps_per_beat
        print(f"wrote {plot_generated(Path(values['output']), Path(values['plot']), spb)}")
    if values.get("wav"):
        from jamd.training.render import render

        print(f"wrote {values['wav']} ({render(Path(values['output']), Path(values['wav']))})")
    return 0


def add_tool_parsers(sub) -> None:
    """``evaluate``, ``compare``, ``render``, ``evaluate-chords``, ``audition``, ``audition-poly``, ``audition-harmonize``: each parser lives beside its code."""
    from jamd.training import audition, chords, evaluate, harmonize_report, plots, poly_report, render

    for module in (evaluate, plots, render, chords, audition, poly_report, harmonize_report):
        module.add_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jamd-train", description="Train, export and try jamd's models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_fit_parser, add_generate_parser, add_tool_parsers):
        add(sub)
    for p in sub.choices.values():
        p.add_argument("--config", metavar="FILE", help="TOML file with the same keys as the flags")
        p.set_defaults(_parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from jamd.training.progress import use_log_lines

    parser = build_parser()
    args = parser.parse_args(argv)
    use_log_lines()  # stderr to a log: a line per progress update, not one line of \r redraws
    try:
        return args.func(args)
    except JamdError as e:
        print(f"jamd-train: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        module = (e.name or "").split(".")[0]
        if module not in TRAIN_EXTRA:
            raise
        print(f"jamd-train: error: {install_hint(module, f'`jamd-train {args.command}`')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jamd-train: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
