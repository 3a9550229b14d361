"""Contract v1 (token only) and v2 (token + bar position) models side by side, on songs neither heard.

For each shipped model: the version-1 model as committed at ``--v1-rev`` (read from git) and the
model in ``models/`` now, scored by ``jamd-train evaluate``'s own arithmetic (bits per step, bits
per note, onset accuracy, through onnxruntime step by step) on the held-out songs the two
sidecars share, so neither model trained on any of them; and one model step of each, timed in
turns (``bench/model_step.py``'s way). Chords models: ``evaluate-chords``' per-beat table on the
held-out tunes they share. Prints tables; asserts nothing.

    .venv/bin/python bench/v1_v2.py [--v1-rev 8852328] [--models folk nottingham nottingham-chords piano]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from jamd.daemon.model import load_model
from jamd.training.evaluate import evaluate_songs, model_split, song_key

REPO = Path(__file__).parents[1]
V1_REV = "8852328"  # the last commit whose models are version 1


def v1_model(name: str, rev: str, directory: Path):
    for suffix in (".onnx", ".json"):
        data = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:models/{name}{suffix}"], check=True,
                              capture_output=True).stdout
        (directory / f"{name}{suffix}").write_bytes(data)
    return load_model(directory / f"{name}.onnx")


def step_micros(model, steps: int = 2000, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for i in range(steps):
            model.feed(3 + i % 20, i % 16, 16)
        times.append((time.perf_counter() - began) / steps * 1e6)
    return float(np.median(times))


def melody_rows(name: str, old, new) -> list[str]:
    split_old, split_new = model_split(old), model_split(new)
    if split_old is None or split_new is None:
        return [f"| `{name}` | cannot rebuild the splits (is ../shared/data there?) | | | |"]
    held_old = {song_key(s.name) for s in split_old[1]}
    shared = [s for s in split_new[1] if song_key(s.name) in held_old]
    rows = []
    for label, model, split in (("v1", old, split_old), ("v2", new, split_new)):
        report = evaluate_songs(model, shared, split[0])["lstm"]
        rows.append(f"| `{name}` ({len(shared)} songs) | {label} | {report['bits_per_step']:.3f} | "
                    f"{report['bits_per_note']:.3f} | {report['onset_accuracy']:.1%} |")
    return rows


def chord_rows(name: str, old, new, data: Path) -> list[str]:
    from jamd.training.chord_data import load_pairs
    from jamd.training.chord_eval import evaluate, step_predict

    songs, _ = load_pairs(data, new.steps_per_beat, progress=False)
    held = set(old.sidecar.training["validation_songs"]) & set(new.sidecar.training["validation_songs"])
    test = [s for s in songs if s.name in held]
    rows = []
    for label, model in (("v1", old), ("v2", new)):
        train = [s for s in songs if s.name not in set(model.sidecar.training["validation_songs"])]
        result = evaluate(step_predict(model), model.sidecar.outputs, train, test, model.steps_per_beat)["model"]
        rows.append(f"| `{name}` ({len(test)} tunes) | {label} | chord = track {result['accuracy']:.3f} | "
                    f"melody in chord {result['melody_in_chord']:.3f} | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--v1-rev", default=V1_REV, help=f"git revision of the v1 models (default {V1_REV})")
    parser.add_argument("--models", nargs="*", default=["folk", "nottingham", "nottingham-chords", "piano"])
    parser.add_argument("--chords-data", default=str(REPO.parent / "shared/data/nottingham/MIDI"))
    args = parser.parse_args()
    rows = ["| model | contract | bits/step | bits/note | onset accuracy |", "| --- | --- | --- | --- | --- |"]
    steps = ["| model | v1 step (us) | v2 step (us) | v2 / v1 |", "| --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            old, new = v1_model(name, args.v1_rev, Path(tmp)), load_model(name)
            if new.sidecar.model_kind.scores_chords:
                rows += chord_rows(name, old, new, Path(args.chords_data))
            else:
                rows += melody_rows(name, old, new)
            a, b = step_micros(old), step_micros(new)
            a, b = min(a, step_micros(old)), min(b, step_micros(new))  # in turns: load falls on both
            steps.append(f"| `{name}` | {a:.1f} | {b:.1f} | {b / a:.2f}x |")
    print("\n".join(rows))
    print()
    print("\n".join(steps))


if __name__ == "__main__":
    main()
