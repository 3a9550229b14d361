"""The ``jamd`` command: ``run`` (the daemon), ``ports`` (what can be connected), ``play`` (a file).

Errors a user can act on (JamdError) print as one line, ``jamd: error: ...``, exit code 2.
Logs go to stderr, where journald picks them up under systemd. Heavy modules (onnxruntime)
are imported inside the commands so ``jamd --help`` answers at once.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import time
from pathlib import Path

from jamd.daemon import config as settings
from jamd.daemon.errors import JamdError
from jamd.daemon.signals import block_signals

log = logging.getLogger("jamd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jamd", description="An LSTM jam partner on MIDI: listens to a "
                                     "player and plays back, live.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser("run", help="run the jam partner on MIDI ports",
                              description="Listen on MIDI input ports and play on an output. With no ports "
                              "named, open virtual ports 'jamd in' and 'jamd out' for others to connect; with only "
                              "--output named, listen to every input device, also those plugged in later. "
                              "SIGTERM/SIGINT stop it cleanly (every note ended), SIGHUP re-reads the "
                              "settings and the model.")
    settings.add_arguments(run)
    ports = commands.add_parser("ports", help="list the MIDI ports jamd can connect to",
                                description="List input and output ports on each MIDI backend (or say why "
                                "a backend is unavailable).")
    ports.add_argument("--backend", choices=settings.BACKENDS, default="auto",
                       help="only this backend (default: every one there is)")
    play = commands.add_parser("play", help="run jamd on a MIDI file, offline",
                               description="Feed a MIDI file through jamd in simulated time and write the "
                               "player's part and jamd's answer as a two-track MIDI file.")
    # dest names must not be Config fields: config_from_args reads every field it finds.
    play.add_argument("in_file", type=Path, metavar="IN.mid",
                      help="the player's MIDI file (or .krn .abc .musicxml with the train extra); its tempo "
                      "and time signature are used unless --tempo / --beats-per-bar say otherwise")
    play.add_argument("-o", "--output-file", type=Path, required=True, metavar="OUT.mid",
                      help="where to write the two-track result")
    for name in ("config", "model", "mode", "tempo", "seed", "temperature", "top_k", "channel", "range", "key",
                 "beats_per_bar", "answer_after_bars", "answer_bars", "log_level"):
        _copy_flag(run, play, name)
    doctor = commands.add_parser("doctor", help="check backends, ports, connections and the model; say what to fix",
                                 description="Check each MIDI backend and list its ports, load the model and "
                                 "time a step, show what is connected to a running jamd's 'jamd in' and "
                                 "'jamd out', and print what to do about each problem. Exit code 1 if any.")
    doctor.add_argument("--backend", choices=settings.BACKENDS, default="auto",
                        help="only this backend (default: every one there is)")
    for name in ("config", "model"):
        _copy_flag(run, doctor, name)
    return parser


def _copy_flag(source: argparse.ArgumentParser, target: argparse.ArgumentParser, name: str) -> None:
    """Give ``play`` the same flag (help, type, choices) as ``run``: one schema, config.py."""
    flag = "--" + name.replace("_", "-")
    action = next(a for a in source._actions if flag in a.option_strings)
    target.add_argument(flag, type=action.type, default=argparse.SUPPRESS, metavar=action.metavar,
                        choices=action.choices, help=action.help, dest=action.dest)


def setup_logging(level: str) -> None:
    # journald stamps each line itself; a terminal gets the time from us.
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format=stamp + "%(levelname)s %(message)s",
                        force=True)


def cmd_run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    block_signals()  # before numpy, onnxruntime or a MIDI backend starts a thread
    # `kill -USR2` prints every thread's stack to the log: how to see where a stuck jamd is.
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    config = settings.config_from_args(args)
    setup_logging(config.log_level)
    from jamd.daemon.ports import Ports
    from jamd.daemon.service import Service

    # Before the ports: a missing aalink or a taken OSC port is one line, with nothing to undo.
    link = osc = None
    if config.clock == "link":
        from jamd.daemon.link import LinkSession

        link = LinkSession(config.tempo)
    if config.osc:
        from jamd.daemon.osc import OscServer

        osc = OscServer(config.osc_host, config.osc)
    # No port named: open virtual ports, the one setup that needs no device name.
    virtual = config.virtual or not (config.input or config.output)
    try:
        ports = Ports(config.backend, config.input, config.output, virtual)
    except BaseException:
        if osc is not None:
            osc.socket.close()
        raise
    try:
        engine = _engine(config)
        recorder = None
        if config.record:
            from jamd.daemon.recorder import Recorder

            recorder = Recorder(Path(config.record), config)
        service = Service(config, ports, engine, reload=lambda: _reload(args), recorder=recorder, watcher=osc)
    except BaseException:
        ports.close()
        if osc is not None:
            osc.socket.close()
        raise
    for extra in (link, osc):
        if extra is not None:
            extra.start(service)
    log.info("started in %.2f s", time.monotonic() - began)
    try:
        return service.serve()
    finally:
        for extra in (osc, link):
            if extra is not None:
                extra.close()


def _engine(config: settings.Config):
    import numpy as np

    from jamd.daemon.engine import Engine
    from jamd.daemon.model import load_model

    model = load_model(config.model)
    return Engine(config, model, np.random.default_rng(config.seed), load_model=load_model)


def _reload(args: argparse.Namespace):
    """(config, engine) from the settings file and flags again: what SIGHUP does."""
    config = settings.config_from_args(args)
    logging.getLogger().setLevel(config.log_level.upper())
    return config, _engine(config)


def cmd_ports(args: argparse.Namespace) -> int:
    from jamd.daemon.ports import describe_ports

    print(describe_ports(args.backend))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    config = settings.config_from_args(args)
    setup_logging(config.log_level)
    from jamd.daemon.offline import play_file

    from jamd.daemon.offline import FROM_FILE

    # The file's tempo and time signature count unless a flag sets them.
    stats = play_file(args.in_file, args.output_file, config,
                      from_file=tuple(name for name in FROM_FILE if not hasattr(args, name)))
    summary = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items()
                        if isinstance(v, (int, float, str)))
    print(f"wrote {args.output_file}: {summary}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from jamd.daemon.doctor import diagnose, render

    report = diagnose(settings.config_from_args(args).model, args.backend)
    print(render(report))
    return 1 if report.problems else 0


COMMANDS = {"run": cmd_run, "ports": cmd_ports, "play": cmd_play, "doctor": cmd_doctor}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except JamdError as e:
        print(f"jamd: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
