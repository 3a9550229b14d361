"""The ONNX step model: one token in, next-token probabilities out, state carried inside."""

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest

from jamd.daemon.encoding import HOLD_ID, REST_ID, START_ID
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model, sample, shipped_models
from jamd.daemon.sidecar import sidecar_path


def _copy_model(src, directory, name):
    """A copy of the model and its sidecar as ``directory/name.onnx`` + ``.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, directory / f"{name}.onnx")
    shutil.copy(sidecar_path(src), directory / f"{name}.json")
    return directory / f"{name}.onnx"


def _tokens(model, n=24):
    """A plausible melody as ids: pitches of the vocabulary with holds and a rest."""
    pitches = [i for i, t in enumerate(model.vocab.tokens) if t.isdigit()]
    out = []
    for i in range(n):
        out.append(pitches[(i * 5) % len(pitches)] if i % 3 == 0 else (HOLD_ID if i % 7 else REST_ID))
    return out


def test_step_gives_probabilities_over_the_vocabulary(folk_model):
    probs = folk_model.step(START_ID)
    assert probs.shape == (len(folk_model.vocab),)
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert (probs >= 0).all()


def _inputs(side, token: int, i: int) -> dict:
    """Every non-state input the sidecar names, filled as the daemon fills it (step i of a 4/4 bar)."""
    fill = {"token": token, "bar_step": i % 16, "bar_steps": 16}
    return {x.name: np.array([[fill[x.fill]]], np.dtype(x.dtype)) for x in side.inputs}


def test_step_matches_a_plain_onnxruntime_run_with_explicit_state(folk_model, folk_model_path):
    session = ort.InferenceSession(str(folk_model_path), providers=["CPUExecutionProvider"])
    side = folk_model.sidecar
    state = {s.input: np.zeros((1, s.size), np.float32) for s in side.state}
    folk_model.reset()
    for i, token in enumerate([START_ID] + _tokens(folk_model)):
        probs = folk_model.step(token, i % 16, 16)
        feeds = {**_inputs(side, token, i), **state}
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        state = {s.input: outputs[s.output] for s in side.state}
        logits = outputs[side.logits_output][0].astype(np.float64)
        expected = np.exp(logits - logits.max())
        np.testing.assert_allclose(probs, expected / expected.sum(), atol=1e-5)


def test_feeding_without_probabilities_carries_the_same_state(folk_model, folk_model_path):
    # The engine feeds every grid step and asks for probabilities only when jamd plays.
    session = ort.InferenceSession(str(folk_model_path), providers=["CPUExecutionProvider"])
    side = folk_model.sidecar
    state = {s.input: np.zeros((1, s.size), np.float32) for s in side.state}
    folk_model.reset()
    for i, token in enumerate([START_ID] + _tokens(folk_model, 31)):
        folk_model.feed(token, i % 16, 16)
        feeds = {**_inputs(side, token, i), **state}
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        state = {s.input: outputs[s.output] for s in side.state}
        if i % 5 == 4:
            logits = outputs[side.logits_output][0].astype(np.float64)
            expected = np.exp(logits - logits.max())
            np.testing.assert_allclose(folk_model.probabilities(), expected / expected.sum(), atol=1e-5)


def test_state_is_carried_and_reset_forgets_it(folk_model):
    melody = _tokens(folk_model)
    folk_model.reset()
    fresh = folk_model.step(START_ID)
    for token in melody:
        folk_model.step(token)
    assert not np.allclose(folk_model.step(START_ID), fresh, atol=1e-6)
    folk_model.reset()
    np.testing.assert_allclose(folk_model.step(START_ID), fresh, atol=1e-6)


def test_get_and_set_state_try_a_branch_without_losing_the_followed_state(folk_model):
    melody = _tokens(folk_model)
    folk_model.reset()
    for token in melody[:12]:
        folk_model.step(token)
    saved = folk_model.get_state()
    expected = [folk_model.step(t) for t in melody[12:]]
    folk_model.set_state(saved)
    for token in melody[:12]:  # a branch, then back
        folk_model.step(token)
    folk_model.set_state(saved)
    for token, probs in zip(melody[12:], expected):
        np.testing.assert_allclose(folk_model.step(token), probs, atol=1e-6)


def test_sample_never_picks_start_and_temperature_zero_is_argmax():
    rng = np.random.default_rng(0)
    probs = np.array([0.9, 0.02, 0.03, 0.05])
    assert sample(probs, 0.0, 0, rng) == 3
    draws = [sample(probs, 1.0, 0, rng) for _ in range(500)]
    assert START_ID not in draws
    assert set(draws) == {1, 2, 3}


def test_top_k_limits_the_choice_and_seed_reproduces_it():
    probs = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    draws = [sample(probs, 2.0, 2, np.random.default_rng(i)) for i in range(300)]
    assert set(draws) == {3, 4}
    again = [sample(probs, 2.0, 2, np.random.default_rng(i)) for i in range(300)]
    assert draws == again


def test_high_temperature_flattens_the_choice():
    probs = np.array([0.0, 0.05, 0.05, 0.9])
    rng = np.random.default_rng(1)
    cold = sum(sample(probs, 0.3, 0, rng) == 3 for _ in range(400))
    hot = sum(sample(probs, 3.0, 0, rng) == 3 for _ in range(400))
    assert cold > 390 and hot < 300


def test_model_by_name_from_jamd_models_dir(folk_model_path, tmp_path, monkeypatch):
    _copy_model(folk_model_path, tmp_path, "mytunes")
    monkeypatch.setenv("JAMD_MODELS", str(tmp_path))
    assert "mytunes" in shipped_models()
    model = load_model("mytunes")
    assert model.path == tmp_path / "mytunes.onnx"
    assert len(model.step(START_ID)) == len(model.vocab)


def test_unknown_model_name_lists_the_known_ones(tmp_path, monkeypatch, folk_model_path):
    _copy_model(folk_model_path, tmp_path, "mytunes")
    monkeypatch.setenv("JAMD_MODELS", str(tmp_path))
    with pytest.raises(JamdError, match="'jazz' not found.*known models: .*mytunes"):
        load_model("jazz")
    with pytest.raises(JamdError, match="nope.onnx: model file not found"):
        load_model(tmp_path / "nope.onnx")


def test_truncated_onnx_is_a_clear_error(folk_model_path, tmp_path):
    path = _copy_model(folk_model_path, tmp_path, "cut")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(JamdError, match="cut.onnx: not a loadable ONNX model.*re-export"):
        load_model(path)


def test_missing_sidecar_is_a_clear_error(folk_model_path, tmp_path):
    path = _copy_model(folk_model_path, tmp_path, "alone")
    sidecar_path(path).unlink()
    with pytest.raises(JamdError, match="alone.json: model sidecar not found"):
        load_model(path)


def _edit_sidecar(path, change):
    data = json.loads(sidecar_path(path).read_text())
    change(data)
    sidecar_path(path).write_text(json.dumps(data))


def test_sidecar_vocabulary_must_match_the_logits_width(folk_model_path, tmp_path):
    path = _copy_model(folk_model_path, tmp_path, "wide")
    _edit_sidecar(path, lambda d: d["vocabulary"].append("0.1.2.3.4"))
    width = len(load_model(folk_model_path).vocab)
    with pytest.raises(JamdError, match=f"wide.json: .*vocabulary size is {width + 1} but wide.onnx .* width {width}"):
        load_model(path)


def test_sidecar_state_names_and_sizes_must_match_the_graph(folk_model_path, tmp_path):
    path = _copy_model(folk_model_path, tmp_path, "renamed")
    _edit_sidecar(path, lambda d: d["state"][0].update(input="hidden"))
    with pytest.raises(JamdError, match="renamed.json: sidecar names inputs .*'hidden'"):
        load_model(path)
    path = _copy_model(folk_model_path, tmp_path, "resized")
    _edit_sidecar(path, lambda d: d["state"][0].update(size=d["state"][0]["size"] + 1))
    with pytest.raises(JamdError, match="resized.json: state size"):
        load_model(path)


def test_zero_probability_is_never_sampled_even_when_hot():
    probs = np.array([0.5, 0.0, 0.0, 0.25, 0.25])
    draws = {sample(probs, 5.0, 0, np.random.default_rng(i)) for i in range(300)}
    assert draws == {3, 4}
    assert sample(np.array([1.0, 0.0, 0.0]), 1.0, 0, np.random.default_rng(0)) == REST_ID


def test_sidecar_vocabulary_outside_midi_range_is_refused(folk_model_path, tmp_path):
    path = _copy_model(folk_model_path, tmp_path, "high")
    _edit_sidecar(path, lambda d: d["vocabulary"].__setitem__(-1, "128"))
    with pytest.raises(JamdError, match="high.json: vocabulary has tokens outside MIDI notes 0-127: \\['128'\\]"):
        load_model(path)
    _edit_sidecar(path, lambda d: d["vocabulary"].__setitem__(-1, "C#4"))
    with pytest.raises(JamdError, match="high.json: vocabulary has a token that is not"):
        load_model(path)
