"""Which MIDI backend jamd can use here, and why not: rtmidi's ALSA, JACK, CoreMIDI or WinMM.

The backend is always named to rtmidi: with no API given it tries ALSA first and fails with
a bare SystemError where /dev/snd/seq is missing (containers, CI).
"""

from __future__ import annotations

import contextlib
import os
import sys

import rtmidi

from jamd.daemon.errors import JamdError
from jamd.daemon.port_names import CLIENT

_APIS = {"alsa": "API_LINUX_ALSA", "jack": "API_UNIX_JACK", "coremidi": "API_MACOSX_CORE",
         "winmm": "API_WINDOWS_MM"}
BACKENDS = tuple(_APIS)

# libjack does not auto-start a server for us (it would grab the sound card); ask explicitly.
os.environ.setdefault("JACK_NO_START_SERVER", "1")


def api(backend: str) -> int:
    return getattr(rtmidi, _APIS[backend])


@contextlib.contextmanager
def quiet_stderr():
    """Mute C libraries (libjack, alsa-lib) that print to fd 2 while we probe a backend.

    Only used at start-up and by ``jamd ports``, before other threads log.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def unavailable_reason(backend: str) -> str | None:
    """None if ``backend`` (alsa, jack, coremidi, winmm) can be used here, else why not and what to do."""
    if backend not in _APIS:
        raise JamdError(f"unknown MIDI backend '{backend}'; use one of auto, {', '.join(_APIS)}")
    compiled = rtmidi.get_compiled_api()
    if backend == "alsa":
        if api("alsa") not in compiled:
            return "python-rtmidi was built without ALSA: reinstall it with libasound2-dev present or use --backend jack"
        if not os.path.exists("/dev/snd/seq"):
            return ("no ALSA sequencer (/dev/snd/seq missing): load it with `sudo modprobe snd-seq` or use "
                    "--backend jack with a running JACK server")
        return None
    if backend == "jack":
        if api("jack") not in compiled:
            return "python-rtmidi was built without JACK: reinstall it with libjack-dev present or use --backend alsa"
        try:
            with quiet_stderr():
                rtmidi.MidiIn(api("jack"), CLIENT).delete()
        except Exception:
            return ("no JACK server answers: start one (`jackd -d alsa`, or `jackd -d dummy` without a sound "
                    "card; PipeWire users: run jamd under pw-jack) or use --backend alsa")
        return None
    platform = {"coremidi": ("darwin", "macOS"), "winmm": ("win32", "Windows")}[backend]
    if sys.platform != platform[0] or api(backend) not in compiled:
        return f"{backend} exists only on {platform[1]}: use --backend alsa or --backend jack"
    return None


def resolve_backend(backend: str) -> str:
    """The backend to use for ``--backend``: ``auto`` tries ALSA, then JACK, then the OS's own.

    JamdError (one line: which backend failed and what to do) if it is not usable.
    """
    if backend != "auto":
        reason = unavailable_reason(backend)
        if reason:
            raise JamdError(f"MIDI backend {backend}: {reason}")
        return backend
    reasons = []
    for name in ("alsa", "jack", "coremidi", "winmm"):
        if name in ("coremidi", "winmm") and sys.platform not in ("darwin", "win32"):
            continue
        reason = unavailable_reason(name)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise JamdError("no MIDI backend available (" + "; ".join(reasons) + ")")
