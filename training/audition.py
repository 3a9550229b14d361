"""``jamd-train audition MODEL DATA... --mode MODE``: how jamd plays, as a musician would hear it.

Picks held-out tunes (``training/tunes.py``), plays each one's opening into the engine
``jamd play`` uses (``training/playalong.py``) and prints what jamd plays beside the real music
and simple baselines, with issue 13's targets (``training/report.py``).

Seeds: ``--seed`` picks the tunes and is the first engine run's seed; each tune is played with
seeds ``--seed .. --seed + --seeds - 1``. The figures are pooled over tunes and seeds.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Sequence

from jamd.daemon.config import Config, load_config
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.training import musicianship as mu
from jamd.training.playalong import MODES, measure
from jamd.training.report import TARGETS, figures_for, format_table
from jamd.training.tunes import Tune, pick
from jamd.training.tunes import chorales as tune_chorales

CHORALES = 20  # duet's real music: soprano against alto, the first 20 chorales of music21's corpus
ENGINE_SETTINGS = ("temperature", "top_k", "stm_strength", "answer_after_bars", "answer_bars", "range")


def audition(model_ref: str, data: Sequence[str], mode: str, tunes: int = 40, seeds: int = 3, seed: int = 0,
             phrase_bars: int = 4, config: Config | None = None, chorales: int = CHORALES,
             metre: str | None = None) -> dict:
    """The report: figures per side for ``mode`` on ``tunes`` held-out tunes of ``data``.

    ``config``: the engine's settings (mode, tempo and metre are the audition's); ``chorales``:
    how many Bach chorales give duet's real music (0 = none); ``metre`` ("3/4"): only tunes in it.
    """
    if mode not in MODES:
        raise JamdError(f"--mode {mode}: expected one of {', '.join(MODES)}")
    if tunes < 1 or seeds < 1 or phrase_bars < 1:
        raise JamdError("--tunes, --seeds and --phrase-bars must be at least 1")
    model = load_model(model_ref)
    config = config or Config()
    from jamd.daemon.kinds import check_mode

    check_mode(mode, model.sidecar.model_kind, model.name)
    need = (phrase_bars + config.answer_bars) if mode == "respond" else 2.0
    picked, skipped = pick(data, model.sidecar.training.get("validation_songs"), tunes, seed,
                           pairs=mode == "chords", trained_on=model.sidecar.corpus.get("sources") or (),
                           usable=lambda t: _too_short(t, need) or _other_metre(t, metre))
    runs = [seed + i for i in range(seeds)]
    reference = tune_chorales(chorales) if mode == "duet" and chorales else []
    sides = measure(model, picked, mode, runs, phrase_bars, config, reference)
    return {
        "model": model.name, "mode": mode, "data": [str(d) for d in data],
        "tunes": len(picked), "seeds": runs, "phrase_bars": phrase_bars, "chorales": len(reference),
        "engine": {k: getattr(config, k) for k in ENGINE_SETTINGS},
        "metres": dict(Counter(t.metre.signature for t in picked).most_common()),
        "skipped": skipped, "tune_names": [t.name for t in picked],
        "figures": figures_for(mode, {side: {k: s.value for k, s in t.items()} for side, t in sides.items()},
                               {side: {k: [s.hits, s.total] for k, s in t.items()} for side, t in sides.items()}),
    }


def _other_metre(tune: Tune, metre: str | None) -> str | None:
    return f"not in {metre}" if metre and tune.metre.signature != metre else None


def _too_short(tune: Tune, bars: float) -> str | None:
    end = max(n.start + n.duration for n in tune.notes)
    return "too short for the mode" if end - tune.first_bar < bars * tune.metre.bar - mu.EPS else None


def command(args) -> int:
    from jamd.training.cli import merged

    values = merged(args)
    data = values.get("data") or []
    if not data or not values.get("mode"):
        raise JamdError("audition needs DATA, tunes the model never trained on, and --mode "
                        + "|".join(MODES) + " (see --help)")
    engine = {"temperature": values["temperature"]} if "temperature" in values else {}
    config = load_config(values.get("jamd_config"), engine)
    report = audition(values["model"], [data] if isinstance(data, str) else data, values["mode"],
                      values.get("tunes", 40), values.get("seeds", 3), values.get("seed", 0),
                      values.get("phrase_bars", 4), config, values.get("chorales", CHORALES), values.get("metre"))
    print(json.dumps(report, indent=1) if values.get("json") else format_table(report))
    return 0


def add_parser(subparsers) -> None:
    """The ``audition`` subcommand, for ``training/cli.py``."""
    p = subparsers.add_parser("audition", help="musicianship figures: jamd playing along held-out tunes",
                              description="Play each held-out tune's opening into the engine `jamd play` uses "
                              "and measure what jamd plays beside the real music and simple baselines. Targets: "
                              + "; ".join(f"{k} {op} {v}" if op != "within" else f"{k} {v[0]}-{v[1]}x the real music's"
                                         for k, (op, v) in TARGETS.items()))
    p.add_argument("model", help="model name (models/NAME.onnx) or .onnx path")
    p.add_argument("data", nargs="+", help="tunes the model never trained on: files, directories, music21:NAME; "
                   "its own corpus is cut to the sidecar's held-out tunes. chords: the folder with melody/ and chords/")
    p.add_argument("--mode", choices=MODES, help="the engine mode to audition (required)")
    p.add_argument("--tunes", type=int, help="tunes to pick (default 40)")
    p.add_argument("--seeds", type=int, help="engine runs per tune, seeds SEED.. (default 3)")
    p.add_argument("--seed", type=int, help="picks the tunes, and the first run's seed (default 0)")
    p.add_argument("--phrase-bars", type=int, help="bars the player plays before jamd answers "
                   "(duet, next: twice as many) (default 4)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default: the engine config's)")
    p.add_argument("--jamd-config", metavar="FILE", help="a jamd TOML config (as `jamd run --config`): the engine "
                   "settings to audition, e.g. temperature, stm_strength, answer_bars")
    p.add_argument("--chorales", type=int, help=f"Bach chorales whose soprano and alto give duet's real music "
                   f"(default {CHORALES}; 0 = none)")
    p.add_argument("--metre", metavar="N/D", help="only tunes in this time signature, e.g. 3/4 (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=command)
