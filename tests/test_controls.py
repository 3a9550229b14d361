"""The table of live settings: the README's CC and OSC tables are generated from it, and a CC
and the OSC message for the same setting change the engine alike."""

from pathlib import Path

import mido
import pytest

from jamd.daemon import controls
from jamd.daemon.config import FIELDS
from engine_helpers import make_engine

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_the_readme_holds_the_generated_cc_and_osc_tables():
    assert controls.cc_table() in README, "README's CC table is stale: paste `python -m jamd.daemon.controls`"
    assert controls.osc_table() in README, "README's OSC table is stale: paste `python -m jamd.daemon.controls`"


def test_every_cc_binding_in_the_config_is_a_live_setting():
    bound = {c.cc for c in controls.CONTROLS if c.cc}
    assert bound == {name for name in FIELDS if name.startswith("cc_")}


def state(engine):
    c = engine.config
    return (c.mode, c.temperature, c.answer_bars, c.stm_strength, round(engine.clock.bpm, 6), engine.muted)


@pytest.mark.parametrize("name,value", [("temperature", 0), ("temperature", 127), ("mode", 50), ("mode", 127),
                                        ("answer_bars", 64), ("mute", 100), ("tempo", 90), ("stm_strength", 33)])
def test_a_cc_and_engine_set_with_its_mapped_value_change_the_engine_alike(folk_model, name, value):
    control = controls.BY_NAME[name]
    by_cc, by_set = make_engine(folk_model), make_engine(folk_model)
    before = state(by_cc)
    by_cc.handle(mido.Message("control_change", control=getattr(by_cc.config, control.cc), value=value), 0.0)
    by_set.set(name, control.from_cc(value), 0.0)
    assert state(by_cc) == state(by_set) != before


def test_the_query_reports_what_engine_set_changed(folk_model):
    engine = make_engine(folk_model)
    engine.set("mode", "duet", 0.0)
    engine.set("temperature", 0.3, 0.0)
    engine.set("tempo", 87.5, 0.0)
    engine.set("mute", True, 0.0)
    got = dict(controls.settings(engine))
    assert (got["/jamd/mode"], got["/jamd/temperature"], got["/jamd/tempo"], got["/jamd/mute"]) == \
        ("duet", 0.3, 87.5, 1)
