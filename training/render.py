"""MIDI file -> WAV, so a generated tune can be heard anywhere: `jamd-train render IN.mid -o OUT.wav`.

FluidSynth with a General MIDI SoundFont when both are installed (Debian: ``apt-get install
fluidsynth fluid-soundfont-gm``); otherwise a small additive synth in numpy, so a WAV is
always produced. Both write 44.1 kHz 16-bit; FluidSynth stereo, the built-in synth mono.
FluidSynth renders until the last voice has died away, so its WAV runs a few seconds past
the MIDI's end; the built-in synth adds its release time only.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from jamd.daemon.errors import JamdError
from jamd.daemon.midifile import read_timed_notes

SAMPLE_RATE = 44100  # Hz
SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)
HARMONICS = (1.0, 0.5, 0.25, 0.12, 0.06)  # amplitudes of partials 1..5: a soft, organ-like tone
ATTACK, DECAY, SUSTAIN, RELEASE = 0.01, 0.08, 0.6, 0.25  # seconds, seconds, level 0-1, seconds
PEAK = 0.9  # of full scale, after mixing: headroom against clipping in whatever plays it next
FLUIDSYNTH_GAIN = 0.5  # FluidSynth's default 0.2 is faint; 0.5 leaves a piano piece's chords unclipped
FLUIDSYNTH_TIMEOUT = 600  # seconds: a piano piece takes a second or two; a hang should not block forever


def find_soundfont() -> Path | None:
    """The first General MIDI SoundFont found in the usual Debian/Fedora places, or None."""
    return next((p for p in SOUNDFONTS if p.is_file()), None)


def render(midi_path: Path, wav_path: Path, engine: str = "auto", soundfont: Path | None = None) -> str:
    """Render ``midi_path`` to ``wav_path``; return the engine used ("fluidsynth" or "builtin").

    ``engine``: "auto" (FluidSynth when installed with a SoundFont, else built-in),
    "fluidsynth" (JamdError if missing) or "builtin".
    """
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    if not midi_path.is_file():
        raise JamdError(f"{midi_path}: no such MIDI file")
    if engine not in ("auto", "fluidsynth", "builtin"):
        raise JamdError(f"engine={engine!r}: expected auto, fluidsynth or builtin")
    soundfont = Path(soundfont) if soundfont else find_soundfont()
    program = shutil.which("fluidsynth")
    if engine == "fluidsynth" and (program is None or soundfont is None or not soundfont.is_file()):
        raise JamdError("FluidSynth or a General MIDI SoundFont is missing: apt-get install fluidsynth "
                        "fluid-soundfont-gm, or pass --engine builtin")
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    if engine != "builtin" and program and soundfont and soundfont.is_file():
        command = [program, "-ni", "-g", str(FLUIDSYNTH_GAIN), "-F", str(wav_path), "-r", str(SAMPLE_RATE), str(soundfont), str(midi_path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=FLUIDSYNTH_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise JamdError(f"{midi_path}: FluidSynth took over {FLUIDSYNTH_TIMEOUT} s; try --engine builtin") from None
        if done.returncode == 0 and wav_path.is_file() and wav_path.stat().st_size > 44:
            return "fluidsynth"
        if engine == "fluidsynth":
            raise JamdError(f"{midi_path}: FluidSynth failed ({(done.stderr or done.stdout).strip()[-200:]})")
    write_wav(wav_path, synthesize(read_timed_notes(midi_path)))
    return "builtin"


def synthesize(notes: list[tuple[float, float, int, int]], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float samples in [-PEAK, PEAK]: each note a few harmonics under an ADSR envelope."""
    end = max((stop for _, stop, _, _ in notes), default=0.0)
    out = np.zeros(int((end + RELEASE) * sample_rate) + 1)
    for start, stop, pitch, velocity in notes:
        held = max(stop - start, ATTACK + DECAY)
        n = int((held + RELEASE) * sample_rate)
        t = np.arange(n) / sample_rate
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t)
                   for k, a in enumerate(HARMONICS) if freq * (k + 1) < sample_rate / 2)
        envelope = np.interp(t, [0, ATTACK, ATTACK + DECAY, held, held + RELEASE], [0, 1, SUSTAIN, SUSTAIN, 0])
        first = int(start * sample_rate)
        out[first:first + n] += (velocity / 127) * envelope * tone
    peak = np.abs(out).max()
    return out * (PEAK / peak) if peak > 0 else out


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Mono 16-bit PCM WAV through the stdlib ``wave`` module."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


def command(args) -> int:
    """``jamd-train render IN.mid -o OUT.wav [--engine auto|fluidsynth|builtin]``."""
    out = Path(args.output) if args.output else Path(args.midi).with_suffix(".wav")
    used = render(Path(args.midi), out, args.engine, args.soundfont)
    print(f"wrote {out} ({used})")
    return 0


def add_parser(subparsers) -> None:
    """The ``render`` subcommand, for ``training/cli.py``."""
    p = subparsers.add_parser("render", help="MIDI file -> WAV (FluidSynth if installed, else a built-in synth)")
    p.add_argument("midi", help="the .mid file to render")
    p.add_argument("-o", "--output", help="the .wav to write (default: beside the MIDI file)")
    p.add_argument("--engine", choices=("auto", "fluidsynth", "builtin"), default="auto")
    p.add_argument("--soundfont", help="a General MIDI .sf2 (default: the first found in /usr/share)")
    p.set_defaults(func=command)
