"""`jamd play`: the engine on a MIDI file in simulated time, written as player + jamd tracks."""

from pathlib import Path

import mido
import pytest

from daemon.config import Config
from daemon.errors import JamdError
from daemon.offline import play_file
from engine_helpers import TUNE, assert_hygienic

FIXTURES = Path(__file__).parent / "fixtures"


def _notes(track):
    return [m for m in track if m.type == "note_on" and m.velocity > 0]


def test_play_file_writes_player_and_jamd_tracks(folk_model, tmp_path):
    config = Config(tempo=120.0, beats_per_bar=3, seed=3, mode="duet")
    stats = play_file(TUNE, tmp_path / "out.mid", config, folk_model)
    result = mido.MidiFile(tmp_path / "out.mid")
    assert [t.name for t in result.tracks] == ["player", "jamd"]
    player, jamd = result.tracks
    assert len(_notes(player)) == len(_notes(mido.MidiFile(TUNE).tracks[0])) == stats["player_notes"]
    assert _notes(jamd) and {m.channel for m in _notes(jamd)} == {1}
    assert len(_notes(jamd)) == stats["jamd_notes"] and stats["steps"] > 0
    # The file's tempo is the engine's, so jamd's notes sit on the 16th-note grid.
    ticks, now = [], 0
    for msg in jamd:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            ticks.append(now)
    assert all(t % (result.ticks_per_beat // 4) == 0 for t in ticks)
    assert result.length > mido.MidiFile(TUNE).length
    # Every jamd note ends: read back from the file in absolute seconds.
    seconds, now = [], 0.0
    for msg in mido.merge_tracks([jamd]):
        now += mido.tick2second(msg.time, result.ticks_per_beat, mido.bpm2tempo(120.0))
        if not msg.is_meta:
            seconds.append((now, msg))
    assert_hygienic(seconds)


def _seconds(track, ticks_per_beat: int, bpm: float = 120.0):
    now, out = 0.0, []
    for msg in track:
        now += mido.tick2second(msg.time, ticks_per_beat, mido.bpm2tempo(bpm))
        if not msg.is_meta:
            out.append((now, msg))
    return out


def test_respond_answers_at_the_end_of_the_tune(folk_model, tmp_path):
    """After the tune's last note, a bar (3 beats) of silence, then jamd's answer: it starts on
    that bar's step and is over within answer_bars (2 bars) after it."""
    config = Config(tempo=120.0, beats_per_bar=3, seed=3)
    play_file(TUNE, tmp_path / "out.mid", config, folk_model)
    result = mido.MidiFile(tmp_path / "out.mid")
    player, jamd = (_seconds(track, result.ticks_per_beat) for track in result.tracks)
    tune_end = max(t for t, m in player if m.type in ("note_on", "note_off"))
    step, bar = 0.125, 1.5  # 16th notes and 3/4 bars at 120 bpm
    answer = [t for t, m in jamd if m.type == "note_on" and m.velocity and t > tune_end]
    assert answer, "no answer after the tune's last note"
    # The grid starts at 0 s: the bar of silence is counted from the step the last note ends on.
    assert tune_end + bar - step <= answer[0] <= tune_end + bar + 2 * step, (tune_end, answer[0])
    assert answer[-1] < answer[0] + 2 * bar, "the answer should last answer_bars (2 bars), no more"


def test_same_seed_same_file(folk_model_path, tmp_path):
    from daemon.model import load_model

    config = Config(tempo=120.0, beats_per_bar=3, seed=11, mode="duet")
    play_file(TUNE, tmp_path / "a.mid", config, load_model(folk_model_path))
    play_file(TUNE, tmp_path / "b.mid", config, load_model(folk_model_path))
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_unreadable_midi_is_a_clear_error(folk_model, tmp_path):
    with pytest.raises(JamdError, match="waltz_de_choco_truncated.mid: not a readable MIDI file"):
        play_file(FIXTURES / "bad" / "waltz_de_choco_truncated.mid", tmp_path / "out.mid", Config(), folk_model)
    with pytest.raises(JamdError, match="nothing.mid: MIDI file not found"):
        play_file(tmp_path / "nothing.mid", tmp_path / "out.mid", Config(), folk_model)
