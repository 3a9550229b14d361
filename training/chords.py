"""The chord accompanist's own parts: its held-out report at training time and ``evaluate-chords``.

``jamd-train fit --kind chords ../shared/data/nottingham/MIDI`` trains it with the one trainer
(``training/train.py``; its examples come from ``training/tasks.py``).

The network is ``training/model.py``'s, with melody tokens in and chord symbols out
(``ModelConfig.outputs``); it steps once per grid step like the melody models, so the
daemon runs it through the same ``StepModel``. At each step it predicts the chord of the
next beat (``training/chord_data.py`` has the alignment and the latency reasoning).

Its own previous chords are not fed back: the daemon's step model has one token input (and the
bar position), and with the likeliest-chord decoding the daemon uses, those chords are a function of the melody
already read, which the LSTM state carries. Consistency from beat to beat comes from the
hysteresis of ``jamd.daemon.chords.choose`` instead.

Augmentation moves melody and chords together by a random shift per tune and epoch, so the
model hears every key; Nottingham is mostly in G and D.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jamd.daemon import chords as chordlib
from jamd.daemon.encoding import Vocabulary
from jamd.daemon.errors import JamdError
from jamd.training.chord_data import ChordSong, load_pairs
from jamd.training.chord_eval import KEEP, evaluate, table


def keras_predict(model, vocab: Vocabulary, position: bool = True):
    """``predict(song)`` for ``chord_eval.evaluate``: chord probabilities after each token, from Keras."""
    def predict(song: ChordSong) -> np.ndarray:
        inputs = [np.asarray([vocab.encode(song.tokens)], np.int32)]
        if position:
            inputs += [song.positions()[None, :, 0], song.positions()[None, :, 1]]
        logits = model(inputs, training=False).numpy()[0]
        logits = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        return np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return predict


def held_out(result) -> tuple[dict, dict]:
    """(metrics, sidecar extra) of a trained chords model: the held-out table against the baselines."""
    task, settings = result.task, result.settings
    results = evaluate(keras_predict(result.model, task.vocab, result.config.position), task.outputs,
                       task.train_songs, task.val_songs, settings.steps_per_beat)
    print(table(results))
    extra = {"chords": list(task.outputs), "chord_rate_beats": 1, "keep": KEEP,
             "voicing": {"bass_low": chordlib.BASS_LOW, "upper_low": chordlib.UPPER_LOW}}
    return {"held_out": results}, extra


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate-chords", help="re-score an exported chord model on its held-out tunes",
                       description="Run MODEL through onnxruntime, step by step as the daemon does, on the "
                       "tunes its sidecar lists as held out; the baseline learns from all the others.")
    p.add_argument("model", nargs="?", help="model name (models/NAME.onnx) or .onnx path")
    p.add_argument("data", nargs="?", metavar="DIR", help="the Nottingham MIDI folder it was trained on")
    p.set_defaults(func=evaluate_chords_command)


def evaluate_chords_command(args) -> int:
    from jamd.daemon.model import load_model
    from jamd.training.chord_eval import step_predict

    if not args.model or not args.data:
        raise JamdError("evaluate-chords needs MODEL and DIR, e.g. nottingham-chords ../shared/data/nottingham/MIDI")
    model = load_model(args.model)
    if not model.sidecar.model_kind.scores_chords:
        raise JamdError(f"model {model.name} is a {model.sidecar.kind} model; evaluate-chords scores chords models "
                        f"(score it with `jamd-train evaluate {model.name}`)")
    held = set(model.sidecar.training.get("validation_songs", []))
    songs, _ = load_pairs(Path(args.data), model.steps_per_beat)
    test = [s for s in songs if s.name in held]
    if not test:
        raise JamdError(f"{args.data}: none of the model's {len(held)} held-out tunes found there")
    results = evaluate(step_predict(model), model.sidecar.outputs, [s for s in songs if s.name not in held], test,
                       model.steps_per_beat)
    print(f"{model.name} on {len(test)} held-out tunes:")
    print(table(results))
    return 0
