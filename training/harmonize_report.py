"""``jamd-train audition-harmonize MODEL``: harmonize mode on held-out chorale melodies, beside Bach.

Each held-out chorale of the poly model's split (its sidecar's ``validation_songs`` from
``music21:bach``) has its soprano played into the engine in harmonize mode (100 bpm, the
chorale's bar); on every quarter-note beat the chord that sounds (jamd's voices with the
player's melody note) is named (``daemon/chords.identify``, sevenths counted as their triad)
and compared with the chord of Bach's four parts on that beat. Printed:

- ``agreement``: share of beats where jamd's chord has Bach's root and quality;
- ``rule``: the same for a rule baseline, the chord Bach's training chorales most often put
  under the melody's scale degree (degree -> chord relative to the key, major and minor apart;
  the rule is told the chorale's key, jamd hears it unless ``--score-key``);
- ``rule_key_heard``: the rule with the key jamd had heard when it wrote the beat's chord, so
  jamd's choice and the rule's are compared on the same key;
- ``parallels``: parallel fifths and octaves (two voices a fifth or an octave apart on two
  beats running, both moving the same way; ``poly_play.parallel_moves``, voices paired high to
  low) per 100 beats, jamd's voices with the melody and Bach's four parts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from jamd.daemon import chords as chordlib
from jamd.daemon.config import Config
from jamd.daemon.encoding import Note
from jamd.daemon.engine import Engine
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.daemon.offline import simulate
from jamd.daemon.poly_play import degree_chord, parallel_moves, parse_degree_chord
from jamd.training import readers
from jamd.training.playalong import played_notes, player_events

TEMPO = 100.0
LOOK = 0.1  # beats after the beat the chord is read: harmonize writes a moment after the melody note


def chorale(name: str):
    """(parts as Note lists, key tonic pc, minor?, beats per bar) of a chorale, through music21."""
    from jamd.training.sources import resolve

    path = resolve(name)[0][0]
    counter = readers.ReadResult()
    with readers.silenced(counter):
        score = readers.parse_score(path)
        parts = [readers.score_notes(p) for p in score.parts]
        key = readers.score_key(score) or readers.analyse_key([n for p in parts for n in p])
        bar = float(score.parts[0].getElementsByClass("Measure")[-1].barDuration.quarterLength)
    tonic, mode = readers.key_tonic(key)
    return parts, tonic, mode == "minor", bar


def sounding(notes: Sequence[Note], at: float) -> list[int]:
    return sorted(n.pitch for n in notes if n.start <= at < n.start + n.duration)


def parallels(chords: list[list[int]]) -> int:
    """Parallel fifths/octaves over a run of chords (the pitches sounding on each beat)."""
    return sum(parallel_moves(a, b) for a, b in zip(chords, chords[1:]) if a and b)


def degree_chords(names: Sequence[str]) -> dict:
    """How often Bach's chorales ``names`` put each chord under each melody scale degree, beat by
    beat: ``{"major"|"minor": {degree: {"<root relative to the tonic><quality>": count}}, "chorales": n}``
    (qualities as ``chords.triad`` folds them). Harmonize's prior (a poly sidecar's ``degree_chords``)
    and, its commonest entries, the rule baseline."""
    table: dict = {"major": defaultdict(Counter), "minor": defaultdict(Counter)}
    read = 0
    for name in names:
        try:
            parts, tonic, minor, _ = chorale(name)
        except Exception:  # noqa: BLE001 -- a chorale music21 cannot read is left out
            continue
        if len(parts) != 4:
            continue
        read += 1
        end = max(n.start + n.duration for n in parts[0])
        for beat in np.arange(0, end, 1.0):
            melody = sounding(parts[0], beat + 1e-6)
            chord = chordlib.triad(chordlib.identify([p for part in parts for p in sounding(part, beat + 1e-6)]))
            if melody and chord:
                degree = str((melody[-1] - tonic) % 12)
                table["minor" if minor else "major"][degree][degree_chord((chord[0] - tonic) % 12, chord[1])] += 1
    return {mode: {d: dict(c) for d, c in sorted(t.items(), key=lambda kv: int(kv[0]))}
            for mode, t in table.items()} | {"chorales": read}


def rule_table(degree_table: dict) -> dict:
    """(minor, melody degree) -> the commonest (root relative to the tonic, quality) under it."""
    rules = {}
    for mode in ("major", "minor"):
        for degree, counts in degree_table[mode].items():
            rules[(mode == "minor", int(degree))] = parse_degree_chord(max(counts, key=counts.get))
    return rules


def rule_chord(rules: dict, melody: int, tonic: int, minor: bool) -> tuple[int, str] | None:
    """The rule baseline's chord (root pitch class, quality) under ``melody`` in the key given."""
    rule = rules.get((minor, (melody - tonic) % 12))
    return ((rule[0] + tonic) % 12, rule[1]) if rule else None


def audition_harmonize(model_ref: str, limit: int = 40, seeds: int = 1, split: str = "validation",
                       candidates: int | None = None, prior: float | None = None, score_key: bool = False) -> dict:
    """The report on ``limit`` chorales of the model's ``split`` ("validation": held out; "train":
    chorales it trained on, for choosing settings without touching the held-out ones)."""
    from jamd.daemon import poly_play
    from jamd.training.poly_data import load_poly

    model = load_model(model_ref)
    training = model.sidecar.training
    songs, _, _ = load_poly([s for s in model.sidecar.corpus.get("sources", []) if s.startswith("music21:")],
                            progress=False)
    validation = set(training.get("validation_songs", []))
    trained = [s.name for s in songs if s.name not in validation]
    pool = sorted(validation) if split == "validation" else trained[::-1]  # train: from the end, away from the rule's
    held = [n for n in pool if n.startswith("music21:bach/")][:limit]
    if not held:
        raise JamdError(f"{model_ref}: its sidecar lists no {split} chorales (music21:bach/...)")
    # Harmonize's prior and the rule baseline, from the training chorales not auditioned: on the
    # held-out split all of them, the sidecar's own ``degree_chords`` (counted again if it has none).
    table = model.sidecar.extra.get("degree_chords") if split == "validation" else None
    if not table:
        table = degree_chords([n for n in trained if n.startswith("music21:bach/") and n not in held])
        model.sidecar.extra["degree_chords"] = table
    rules = rule_table(table)
    if candidates is not None:
        poly_play.CANDIDATES = candidates
    if prior is not None:
        poly_play.PRIOR = prior
    totals = Counter()
    beat_s = 60.0 / TEMPO
    for name in held:
        parts, tonic, minor, bar = chorale(name)
        if len(parts) != 4:
            continue
        soprano = parts[0]
        first = min(n.start for n in soprano)
        events = player_events([Note(n.start - first, n.duration, n.pitch) for n in soprano], TEMPO)
        end = max(n.start + n.duration for n in soprano) - first
        beats = np.arange(0.0, end, 1.0)  # quarter-note beats from the first melody note (on a beat)
        bach_chords = [[p for part in parts for p in sounding(part, b + first + 1e-6)[-1:]] for b in beats]
        totals["bach_parallels"] += parallels(bach_chords)
        totals["bach_beats"] += len(beats)
        for seed in range(seeds):
            config = Config(mode="harmonize", tempo=TEMPO, beats_per_bar=max(1, round(bar)), infer_bar=False,
                            seed=seed, key=chordlib.ROOTS[tonic] + ("m" if minor else "") if score_key else "")
            engine = Engine(config, model, np.random.default_rng(seed))
            heard: list[tuple[float, tuple[int, bool]]] = []  # (seconds, the key jamd hears then)
            out = simulate(engine, events, (end + 1) * beat_s, after_tick=lambda when: heard.append((when, engine.key())))
            own = played_notes(out, config.channel - 1, TEMPO)
            played: list[list[int]] = []
            for b in beats:
                melody = sounding(soprano, b + first + 1e-6)
                bach = chordlib.triad(chordlib.identify([p for part in parts for p in sounding(part, b + first + 1e-6)]))
                voices = sounding(own, b + LOOK)
                mine = chordlib.triad(chordlib.identify(voices + melody))
                totals["beats"] += 1
                totals["agree"] += mine is not None and mine == bach
                if melody:
                    totals["rule_agree"] += rule_chord(rules, melody[-1], tonic, minor) == bach
                    now = (b + LOOK) * beat_s  # the key jamd had heard when it wrote this beat's chord
                    key = next((k for when, k in reversed(heard) if when <= now), (tonic, minor))
                    totals["rule_heard_agree"] += rule_chord(rules, melody[-1], *key) == bach
                played.append(sorted(voices + melody, reverse=True)[:4])
                totals["voices"] += len(voices)
            totals["parallels"] += parallels(played)
        totals["chorales"] += 1
    beats = max(1, totals["beats"])
    return {"model": model.name, "split": split, "candidates": poly_play.CANDIDATES, "prior": poly_play.PRIOR,
            "key": "the score's" if score_key else "heard",
            "chorales": totals["chorales"], "seeds": seeds, "beats": totals["beats"],
            "agreement": round(totals["agree"] / beats, 4),
            "rule": round(totals["rule_agree"] / beats, 4),
            "rule_key_heard": round(totals["rule_heard_agree"] / beats, 4),
            "voices_per_beat": round(totals["voices"] / beats, 3),
            "parallels_per_100_beats": round(100 * totals["parallels"] / beats, 2),
            "bach_parallels_per_100_beats": round(100 * totals["bach_parallels"] / max(1, totals["bach_beats"]), 2)}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("audition-harmonize", help="harmonize mode on held-out chorale melodies: chords "
                              "against Bach's and a rule baseline, parallel fifths and octaves",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("model", metavar="MODEL", help="a poly model (name or .onnx path)")
    p.add_argument("--limit", type=int, default=40, help="at most this many held-out chorales (default 40)")
    p.add_argument("--seeds", type=int, default=1, help="engine seeds per chorale (default 1)")
    p.add_argument("--split", choices=("validation", "train"), default="validation",
                   help="held-out chorales (default), or chorales the model trained on, to choose settings by")
    p.add_argument("--candidates", type=int, help="voicings drawn per melody note (default: the daemon's)")
    p.add_argument("--prior", type=float, help="weight of the chorales' degree->chord counts beside the model "
                   "(default: the daemon's; 0 = the model alone)")
    p.add_argument("--score-key", action="store_true", help="tell jamd each chorale's key (config key), as the "
                   "rule baseline is told it, instead of jamd hearing it in the melody")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=command)


def command(args) -> int:
    from jamd.training.cli import merged

    values = merged(args)
    report = audition_harmonize(values["model"], values.get("limit", 40), values.get("seeds", 1),
                                values.get("split", "validation"), values.get("candidates"), values.get("prior"),
                                bool(values.get("score_key")))
    if values.get("json"):
        print(json.dumps(report, indent=1))
    else:
        print(f"{report['chorales']} {'held-out' if report['split'] == 'validation' else 'training'} chorales, {report['beats']} beats × {report['seeds']} seed(s), key {report['key']}\n"
              f"chord = Bach's (root and quality): jamd {report['agreement']:.1%}, rule baseline {report['rule']:.1%} "
              f"(with the key jamd hears {report['rule_key_heard']:.1%})\n"
              f"voices under the melody per beat: {report['voices_per_beat']}\n"
              f"parallel fifths/octaves per 100 beats: jamd {report['parallels_per_100_beats']}, "
              f"Bach {report['bach_parallels_per_100_beats']}")
    return 0
