"""`jamd play`: the engine on a MIDI file in simulated time, written as player + jamd tracks."""

from pathlib import Path

import mido
import pytest

from jamd.daemon.config import Config
from jamd.daemon.errors import JamdError
from jamd.daemon.offline import play_file
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
    from jamd.daemon.model import load_model

    config = Config(tempo=120.0, beats_per_bar=3, seed=11, mode="duet")
    play_file(TUNE, tmp_path / "a.mid", config, load_model(folk_model_path))
    play_file(TUNE, tmp_path / "b.mid", config, load_model(folk_model_path))
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_unreadable_midi_is_a_clear_error(folk_model, tmp_path):
    with pytest.raises(JamdError, match="waltz_de_choco_truncated.mid: not a readable MIDI file"):
        play_file(FIXTURES / "bad" / "waltz_de_choco_truncated.mid", tmp_path / "out.mid", Config(), folk_model)
    with pytest.raises(JamdError, match="nothing.mid: MIDI file not found"):
        play_file(tmp_path / "nothing.mid", tmp_path / "out.mid", Config(), folk_model)


def _meta(path, kind):
    return [m for track in mido.MidiFile(path).tracks for m in track if m.type == kind]


def test_play_takes_the_tempo_and_time_signature_from_the_file(folk_model, tmp_path):
    """A 3/4 waltz at 170 bpm is played and written at 170 bpm in 3/4, lasting as long as it did."""
    waltz = FIXTURES / "waltz_de_choco.mid"
    stats = play_file(waltz, tmp_path / "out.mid", Config(seed=1), folk_model)
    assert stats["tempo"] == pytest.approx(170.0, abs=0.01) and stats["beats_per_bar"] == 3
    [tempo] = _meta(tmp_path / "out.mid", "set_tempo")
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(170.0, abs=0.01)
    assert [(m.numerator, m.denominator) for m in _meta(tmp_path / "out.mid", "time_signature")] == [(3, 4)]
    result = mido.MidiFile(tmp_path / "out.mid")
    player_end = sum(mido.tick2second(m.time, result.ticks_per_beat, tempo.tempo) for m in result.tracks[0])
    assert player_end == pytest.approx(mido.MidiFile(waltz).length, abs=0.05)


def test_flags_override_the_files_tempo_and_metre(folk_model, tmp_path):
    from jamd.daemon.cli import main

    out = tmp_path / "out.mid"
    assert main(["play", str(FIXTURES / "waltz_de_choco.mid"), "-o", str(out), "--model", str(folk_model.path),
                 "--tempo", "100", "--beats-per-bar", "4", "--seed", "1"]) == 0
    assert mido.tempo2bpm(_meta(out, "set_tempo")[0].tempo) == pytest.approx(100.0)
    assert [(m.numerator, m.denominator) for m in _meta(out, "time_signature")] == [(4, 4)]


def test_an_empty_file_says_so(folk_model, tmp_path):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(JamdError, match="empty.mid: the file is empty"):
        play_file(empty, tmp_path / "out.mid", Config(), folk_model)


@pytest.mark.train
def test_play_reads_a_kern_score_with_the_train_extra(folk_model, tmp_path):
    pytest.importorskip("music21")
    stats = play_file(FIXTURES / "kindr001.krn", tmp_path / "out.mid", Config(seed=1, tempo=120), folk_model)
    assert stats["player_notes"] > 20 and stats["beats_per_bar"] == 2, "kindr001 is in 2/4"
    assert [(m.numerator, m.denominator) for m in _meta(tmp_path / "out.mid", "time_signature")] == [(2, 4)]
