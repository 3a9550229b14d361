"""Any value in any key of a model sidecar or a settings file: jamd either runs with it or says
one clear line (JamdError naming the file), and a reload that meets one keeps the running
settings. Nothing else escapes: a stray exception on SIGHUP would end the supervisor.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jamd.daemon.config import FIELDS, Config, load_config
from jamd.daemon.engine import Engine
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.daemon.service import Service
from jamd.daemon.sidecar import sidecar_path
from test_systemd import _Ports

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)
SIDECAR_KEYS = ["format", "name", "kind", "vocabulary", "steps_per_beat", "token_input", "logits_output",
                "state", "corpus", "training", "metrics", "extra", "something else"]


def one_line(error: JamdError, where: str) -> None:
    text = str(error)
    assert "\n" not in text and where in text, text


@pytest.fixture(scope="module")
def model_copy(folk_model_path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sidecars")
    path = folder / "fuzz.onnx"
    shutil.copy(folk_model_path, path)
    shutil.copy(sidecar_path(folk_model_path), sidecar_path(path))
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(SIDECAR_KEYS), value=json_values, whole=st.booleans())
def test_any_json_in_any_sidecar_key_loads_or_is_one_line(folk_model_path, model_copy, key, value, whole):
    data = json.loads(sidecar_path(folk_model_path).read_text())
    if whole:
        data = value  # the whole file some other JSON value
    else:
        data[key] = value
    sidecar_path(model_copy).write_text(json.dumps(data))
    try:
        model = load_model(model_copy)
    except JamdError as e:
        one_line(e, model_copy.stem)  # names the .json or the .onnx
        return
    # It loaded: then it must run a step as the daemon does.
    engine = Engine(Config(mode="duet", seed=1), model, np.random.default_rng(1))
    engine.tick(0.0)
    engine.tick(1.0)


toml_values = st.one_of(
    st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=10),
    st.lists(st.one_of(st.integers(0, 200), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 5), max_size=2),
)


def toml_literal(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else
                                              "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items()) + "}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(FIELDS) + ["no_such_key"]), value=toml_values, dashed=st.booleans())
def test_any_toml_value_in_any_settings_key_is_a_config_or_one_line(tmp_path, key, value, dashed):
    path = tmp_path / "jamd.toml"
    name = key.replace("_", "-") if dashed else key
    path.write_text(f"{name} = {toml_literal(value)}\n")
    try:
        config = load_config(path)
    except JamdError as e:
        one_line(e, str(path))
        return
    assert isinstance(config, Config)


def test_a_reload_that_meets_a_bad_value_keeps_the_running_settings(folk_model, tmp_path, caplog):
    """What SIGHUP runs, with each kind of bad file: the engine and settings stay as they were."""
    config = Config(mode="duet", seed=1)
    engine = Engine(config, folk_model, np.random.default_rng(1))
    bad_files = ['mode = "solo"\n', "tempo = true\n", "input = [1, 2]\n", "channel = {a = 1}\n", "tempo = nan\n",
                 "model = \"\"\n", "[table]\nx = 1\n", "tempo = \n"]
    for text in bad_files:
        (tmp_path / "jamd.toml").write_text(text)

        def reload():
            new = load_config(tmp_path / "jamd.toml")
            return new, Engine(new, folk_model, np.random.default_rng(1))
        service = Service(config, _Ports(), engine, reload=reload)
        with caplog.at_level(logging.ERROR, logger="jamd"):
            caplog.clear()
            service._reload_settings()
        assert service._controls.empty(), f"{text!r}: a bad file must not swap the engine"
        assert service.config is config and service.engine is engine
        failed = [r.getMessage() for r in caplog.records if "reload failed" in r.getMessage()]
        assert len(failed) == 1 and "\n" not in failed[0], (text, failed)
