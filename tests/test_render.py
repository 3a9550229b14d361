"""`jamd-train render`: a MIDI file becomes a WAV you can play, with or without FluidSynth."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.daemon.errors import JamdError
from jamd.daemon.midifile import read_timed_notes
from jamd.training.render import find_soundfont, render

FIXTURES = Path(__file__).parent / "fixtures"
MELODY = FIXTURES / "nottingham" / "melody" / "ashover1.mid"  # a 47 s jig melody
PIANO = FIXTURES / "waltz_de_choco.mid"  # a 31 s piano piece with chords


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples (float, first channel) and the rate of a 16-bit WAV."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(float) / 32768
        return frames[:: wav.getnchannels()], wav.getframerate()


def single_note(path: Path, pitch: int, seconds: float) -> Path:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)])  # 120 bpm: 960 ticks a second
    track += [mido.Message("note_on", note=pitch, velocity=100, time=0),
              mido.Message("note_off", note=pitch, velocity=0, time=int(seconds * 960))]
    midi.tracks.append(track)
    midi.save(str(path))
    return path


@pytest.mark.parametrize("midi", [MELODY, PIANO], ids=["melody", "piano"])
def test_builtin_synth_writes_a_wav_as_long_as_the_midi(tmp_path, midi):
    out = tmp_path / "out.wav"
    assert render(midi, out, engine="builtin") == "builtin"
    samples, rate = read_wav(out)
    length = mido.MidiFile(str(midi)).length
    assert rate == 44100
    assert length - 0.5 <= len(samples) / rate <= length + 1.0
    assert 0.5 < np.abs(samples).max() <= 0.91  # normalised, not clipped
    assert np.sqrt(np.mean(samples ** 2)) > 0.05  # sound all along, not a click and silence


def test_builtin_synth_plays_the_right_pitch(tmp_path):
    render(single_note(tmp_path / "a4.mid", 69, 1.0), tmp_path / "a.wav", engine="builtin")
    samples, rate = read_wav(tmp_path / "a.wav")
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=2)


def test_fluidsynth_renders_with_a_general_midi_soundfont(tmp_path):
    if shutil.which("fluidsynth") is None or find_soundfont() is None:
        pytest.skip("FluidSynth or a GM SoundFont is missing: apt-get install fluidsynth fluid-soundfont-gm")
    out = tmp_path / "out.wav"
    assert render(MELODY, out, engine="fluidsynth") == "fluidsynth"
    samples, rate = read_wav(out)
    length = mido.MidiFile(str(MELODY)).length
    # FluidSynth renders until the last voice has died away: a few seconds of tail.
    assert length <= len(samples) / rate <= length + 5.0
    assert np.sqrt(np.mean(samples ** 2)) > 0.01


def test_auto_falls_back_to_the_builtin_synth_without_a_soundfont(tmp_path):
    used = render(MELODY, tmp_path / "out.wav", soundfont=tmp_path / "missing.sf2")
    assert used == "builtin"
    assert (tmp_path / "out.wav").stat().st_size > 44


def test_notes_keep_their_timing_in_seconds():
    notes = read_timed_notes(MELODY)
    onsets = [m for m in mido.MidiFile(str(MELODY)) if m.type == "note_on" and m.velocity > 0]
    assert len(notes) == len(onsets) == 68
    assert notes[-1][1] == pytest.approx(mido.MidiFile(str(MELODY)).length, abs=1.0)
    assert all(end > start for start, end, _, _ in notes)


def test_a_broken_midi_file_is_a_clear_error(tmp_path):
    with pytest.raises(JamdError, match="truncated.mid: not a readable MIDI file"):
        render(FIXTURES / "bad" / "waltz_de_choco_truncated.mid", tmp_path / "x.wav", engine="builtin")
    with pytest.raises(JamdError, match="no such MIDI file"):
        render(tmp_path / "nothing.mid", tmp_path / "x.wav")
