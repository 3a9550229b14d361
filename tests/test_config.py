"""Settings: one schema filled by TOML and by CLI flags; bad input named clearly."""

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from jamd.daemon import config as config_module
from jamd.daemon.config import Config, add_arguments, config_from_args, example_toml, load_config
from jamd.daemon.errors import JamdError

EXAMPLE = Path(__file__).parents[1] / "systemd" / "jamd.toml.example"


def _parser():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


def test_example_file_lists_every_setting_with_its_default(tmp_path):
    text = EXAMPLE.read_text()
    assert text == example_toml(), "regenerate: python -m jamd.daemon.config > systemd/jamd.toml.example"
    keys = re.findall(r"^#(\w+) = ", text, flags=re.M)
    assert keys == [f.name for f in dataclasses.fields(Config)]
    # Uncommenting every line must give exactly the defaults (seed's example value aside).
    uncommented = re.sub(r"^#(\w+ = )", r"\1", text, flags=re.M)
    (tmp_path / "all.toml").write_text(uncommented)
    assert load_config(tmp_path / "all.toml", {}) == Config(seed=1)


def test_toml_file_then_overrides(tmp_path):
    path = tmp_path / "jamd.toml"
    path.write_text('mode = "duet"\ntempo = 90\ninput = ["Keystation"]\nchannel = 5\n')
    config = load_config(path, {"tempo": 132.5})
    assert (config.mode, config.tempo, config.input, config.channel) == ("duet", 132.5, ("Keystation",), 5)
    assert isinstance(config.tempo, float)
    assert config.model == "folk"


@pytest.mark.parametrize(
    "text, words",
    [
        ("chanel = 3\n", ["jamd.toml", "chanel", "did you mean 'channel'"]),
        ("channel = 17\n", ["jamd.toml", "'channel'", "17", "1 to 16"]),
        ('mode = "solo"\n', ["'mode'", "'solo'", "respond, next, duet"]),
        ("channel = true\n", ["'channel'", "True"]),
        ('tempo = "fast"\n', ["'tempo'", "'fast'", "20.0 to 300.0"]),
        ("tempo = \n", ["jamd.toml", "not valid TOML"]),
        ('key = "H"\n', ["'key'", "'H'", "F#m"]),
    ],
)
def test_bad_setting_names_file_key_value_and_allowed_range(tmp_path, text, words):
    path = tmp_path / "jamd.toml"
    path.write_text(text)
    with pytest.raises(JamdError) as err:
        load_config(path, {})
    for word in words:
        assert word in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file_says_where_to_copy_from(tmp_path):
    with pytest.raises(JamdError, match="not found.*jamd.toml.example"):
        load_config(tmp_path / "nope.toml", {})


def test_flags_override_file_and_only_given_flags_count(tmp_path):
    path = tmp_path / "jamd.toml"
    path.write_text('mode = "next"\ntempo = 80\nthru = true\n')
    args = _parser().parse_args(
        ["--config", str(path), "--tempo", "120", "--answer-after-bars", "0.5",
         "--input", "a", "--input", "b", "--no-thru", "--metronome", "--seed", "7"]
    )
    config = config_from_args(args)
    assert config.mode == "next"  # from the file: no --mode flag given
    assert config.tempo == 120.0 and config.answer_after_bars == 0.5
    assert config.input == ("a", "b")
    assert config.thru is False and config.metronome is True and config.seed == 7


def test_no_flags_no_file_gives_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    assert config_from_args(_parser().parse_args([])) == Config()


def test_default_system_config_is_read_when_present(monkeypatch, tmp_path):
    path = tmp_path / "jamd.toml"
    path.write_text('model = "piano"\n')
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", path)
    assert config_from_args(_parser().parse_args([])).model == "piano"


def test_bad_flag_value_is_a_jamd_error():
    args = _parser().parse_args(["--channel", "0"])
    with pytest.raises(JamdError, match="'channel' = 0.*1 to 16"):
        config_from_args(args)


def test_help_shows_default_and_range_for_every_flag():
    text = " ".join(_parser().format_help().split())  # argparse wraps to the terminal width
    for f in dataclasses.fields(Config):
        assert "--" + f.name.replace("_", "-") in text
    assert "--answer-after-bars" in text and "0.25 to 16.0" in text
    assert "repeat the flag" in text and "--no-thru" in text


def test_config_is_frozen_and_replace_checks():
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.tempo = 50  # type: ignore[misc]
    assert config.replace(tempo=60).tempo == 60.0
    with pytest.raises(JamdError, match="'tempo'"):
        config.replace(tempo=1000)


def test_help_gives_the_default_jamd_actually_uses():
    """Virtual ports are what jamd opens when no port is named: --help must not say "default False"."""
    import subprocess
    import sys

    text = " ".join(subprocess.run([sys.executable, "-m", "jamd.daemon.cli", "run", "--help"], capture_output=True,
                                   text=True, check=True).stdout.split())
    virtual = text.split("--virtual, --no-virtual")[1].split("--channel")[0]
    assert "default False" not in virtual and "on when neither --input nor --output is named" in virtual


def test_a_key_is_read_as_a_musician_writes_it():
    from jamd.daemon.config import key_name

    assert [key_name(k) for k in ("G", "Bb", "F#m", "c", "Ebm")] == [(7, False), (10, False), (6, True), (0, False),
                                                                      (3, True)]
    assert key_name("H") is None and key_name("Gx") is None and key_name("m") is None
