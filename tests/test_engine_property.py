"""Whatever arrives on the wire, the engine never raises, never sends an invalid message, and
leaves nothing sounding after silence()."""

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jamd.daemon.config import MELODY_MODES, Config
from jamd.daemon.engine import Engine
from jamd.daemon.messages import to_bytes
from jamd.daemon.model import load_model, shipped_models
from engine_helpers import assert_hygienic
from test_model import _copy_model

channels = st.integers(0, 15)
data7 = st.integers(0, 127)
# Bias controllers and notes towards the ones jamd reacts to (CC 21-27, the tap note 36).
controls = st.one_of(st.integers(21, 27), data7)
notes = st.one_of(st.sampled_from([36, 60, 62, 64]), data7)

messages = st.one_of(
    st.builds(lambda c, n, v: mido.Message("note_on", channel=c, note=n, velocity=v), channels, notes, data7),
    st.builds(lambda c, n: mido.Message("note_off", channel=c, note=n), channels, notes),
    st.builds(lambda c, n, v: mido.Message("control_change", channel=c, control=n, value=v), channels, controls,
              data7),
    st.builds(lambda c, p: mido.Message("program_change", channel=c, program=p), channels, st.integers(0, 4)),
    st.sampled_from([mido.Message(t) for t in ("clock", "start", "stop", "continue", "reset", "active_sensing")]),
    st.builds(lambda d: mido.Message("sysex", data=d), st.lists(data7, max_size=4)),
    st.builds(lambda c, p: mido.Message("pitchwheel", channel=c, pitch=p), channels, st.integers(-8192, 8191)),
)
# Each item: a message, or None for "just tick", after a pause of 0-400 ms.
streams = st.lists(st.tuples(st.floats(0.0, 0.4), st.one_of(st.none(), messages)), max_size=60)
configs = st.builds(
    lambda mode, clock, thru, metronome, input_channel: Config(
        mode=mode, clock=clock, thru=thru, metronome=metronome, input_channel=input_channel, tap_note=36,
        answer_after_bars=0.25, answer_bars=0.5, program_channel=1),
    st.sampled_from(MELODY_MODES), st.sampled_from(["internal", "midi", "auto"]), st.booleans(), st.booleans(),
    st.sampled_from([0, 1]),
)


@pytest.fixture(scope="module")
def model(folk_model_path, tmp_path_factory):
    """The real model, with two copies on the model path so Program Change 0 and 1 switch."""
    directory = tmp_path_factory.mktemp("models")
    for name in ("a", "b"):
        _copy_model(folk_model_path, directory, name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAMD_MODELS", str(directory))
        yield load_model(folk_model_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=configs, stream=streams, seed=st.integers(0, 2**16))
def test_any_message_stream_is_safe(model, config, stream, seed):
    switched = []

    def loader(name):  # Program Change: hand back the same real model, but count the switch
        switched.append(name)
        return model

    engine = Engine(config, model, np.random.default_rng(seed), load_model=loader)
    out, now = engine.tick(0.0), 0.0
    for pause, msg in stream:
        now += pause
        while (due := engine.next_tick_time()) <= now:
            out += engine.tick(due)
        sent = engine.handle(msg, now) if msg is not None else engine.tick(now)
        assert all(when <= now for when, _ in sent), "messages are handed out only when due"
        out += sent
    end = now + 5.0
    while (due := engine.next_tick_time()) <= end:
        out += engine.tick(due)
    out += engine.silence(end)
    for when, sent in out:
        # What goes on the wire (jamd.daemon.messages.to_bytes, as the output does): one status byte,
        # then data bytes below 128. A data byte >= 128 would be read as a new status.
        data = to_bytes(sent)
        assert 0x80 <= data[0] <= 0xEF, f"{sent}: jamd sends channel messages only, got status {data[0]:#x}"
        assert all(0 <= b < 0x80 for b in data[1:]), f"{sent}: a data byte out of MIDI range in {data}"
    assert_hygienic(out)
    assert not engine.out.sounding()
    programs = [m for _, m in stream if m is not None and m.type == "program_change"
                and m.program < len(shipped_models()) and m.channel == 0]
    assert len(switched) == len(programs)
