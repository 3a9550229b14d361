"""`--record DIR`: each session (player and jamd, two tracks) saved as a MIDI file once the player
stops, written by a thread of its own; and the real `jamd run --record` on JACK."""

from __future__ import annotations

import signal
import time

import mido
import pytest

from jamd.daemon.config import Config
from jamd.daemon.errors import JamdError
from jamd.daemon.recorder import Recorder


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _notes(track) -> list[int]:
    return [m.note for m in track if m.type == "note_on" and m.velocity > 0]


def test_session_is_saved_as_two_tracks_once_the_player_stops(tmp_path):
    clock = Clock()
    recorder = Recorder(tmp_path, Config(tempo=120.0), clock=clock)
    assert recorder.idle == pytest.approx(8.0)  # 4 bars of 4 beats at 120 bpm
    recorder.player(mido.Message("control_change", control=7, value=90), clock.now)  # no session yet
    for i, note in enumerate((60, 62, 64)):
        clock.now = 100.0 + i * 0.5
        recorder.player(mido.Message("note_on", note=note, velocity=90), clock.now)
        recorder.player(mido.Message("note_off", note=note), clock.now + 0.25)
    clock.now = 103.0
    recorder.jamd([0x91, 67, 80])
    clock.now = 103.5
    recorder.jamd([0x81, 67, 0])
    recorder.check(108.0)  # 7 s of silence: still the same session
    assert not recorder.saved and recorder._player
    recorder.check(109.1)
    recorder.close()
    assert len(recorder.saved) == 1
    midi = mido.MidiFile(recorder.saved[0])
    assert [t.name for t in midi.tracks] == ["player", "jamd"]
    assert _notes(midi.tracks[0]) == [60, 62, 64] and _notes(midi.tracks[1]) == [67]
    # jamd's note starts 3 s (6 beats) after the player's first one
    jamd_on = next(t for t, m in _timed(midi.tracks[1]) if m.type == "note_on")
    assert jamd_on == pytest.approx(6 * midi.ticks_per_beat, abs=2)


def _timed(track):
    t = 0
    for m in track:
        t += m.time
        yield t, m


def test_two_sessions_make_two_files_and_close_saves_the_one_in_progress(tmp_path):
    clock = Clock()
    recorder = Recorder(tmp_path, Config(tempo=120.0), idle_seconds=1.0, clock=clock)
    recorder.player(mido.Message("note_on", note=60, velocity=90), 100.0)
    recorder.check(101.5)
    recorder.player(mido.Message("note_on", note=72, velocity=90), 102.0)
    recorder.close()
    assert len(recorder.saved) == 2 and len(set(recorder.saved)) == 2
    assert [_notes(mido.MidiFile(p).tracks[0]) for p in recorder.saved] == [[60], [72]]


def test_unwritable_record_folder_is_refused_at_start(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JamdError, match="--record .*cannot write there"):
        Recorder(blocker / "sub", Config())


@pytest.mark.jack
def test_jamd_run_records_the_players_phrase_and_its_answer(jack_server, folk_model_path, tmp_path):
    from test_jack_e2e import Jamd, Player, tune_events

    jamd = Jamd(folk_model_path, "--virtual", "--record", str(tmp_path / "takes"))
    player = Player(jamd)
    try:
        last = player.play(tune_events(3.0))
        player.wait_note_on(last, timeout=6.0)
        time.sleep(0.5)
        assert jamd.stop(signal.SIGTERM) == 0, jamd.log()
    finally:
        player.close()
    files = sorted((tmp_path / "takes").glob("jam-*.mid"))
    assert len(files) == 1, jamd.log()
    midi = mido.MidiFile(files[0])
    played = [m for _, m in tune_events(3.0) if m.type == "note_on" and m.velocity > 0]
    heard = [m for _, m in player.received if m.type == "note_on" and m.velocity > 0]
    assert _notes(midi.tracks[0]) == [m.note for m in played]
    assert _notes(midi.tracks[1]) == [m.note for m in heard]
    assert f"recorded {files[0]}" in jamd.log()
