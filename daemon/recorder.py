"""``--record DIR``: each jam session saved as a two-track MIDI file (player, jamd).

A session ends when the player has not played for ``idle_seconds``. The engine thread only
appends (time, message) to two lists and, at the end of a session, hands them over on a
queue; a writer thread of its own turns them into a file (daemon/midifile.write_tracks), so
a slow SD card never delays a note.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import mido

from jamd.daemon.config import Config
from jamd.daemon.errors import JamdError
from jamd.daemon.midifile import write_tracks
from jamd.daemon.voice import Scheduled

log = logging.getLogger("jamd")

IDLE_BARS = 4  # the player silent this long (bars): the session is over and gets written
_NOISE = ("clock", "active_sensing", "start", "stop", "continue", "songpos", "sysex")


def check_folder(folder: Path) -> Path:
    """``folder`` created if needed; JamdError if it cannot be written to (said at start, not mid-jam)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".jamd-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise JamdError(f"--record {folder}: cannot write there ({e.strerror}); give a folder jamd's user "
                        "may write to (under systemd: /var/lib/jamd, the unit's StateDirectory)") from None
    return folder


class Recorder:
    """Collects the player's and jamd's MIDI of one session; a writer thread saves each one."""

    def __init__(self, folder: Path, config: Config, idle_seconds: float | None = None,
                 clock=time.monotonic):
        self.folder = check_folder(folder)
        self.config = config
        self.idle = idle_seconds if idle_seconds is not None else IDLE_BARS * config.beats_per_bar * 60 / config.tempo
        self._clock = clock
        self._player: list[Scheduled] = []
        self._jamd: list[Scheduled] = []
        self._began = 0.0  # clock time of the session's first message
        self._last_played = 0.0
        self.saved: list[Path] = []  # files written so far (the writer thread appends)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="jamd-recorder", daemon=True)
        self._writer.start()

    # ---- engine thread: appends only ----------------------------------------------------

    def player(self, msg: mido.Message, when: float) -> None:
        """The player's message received at ``when`` (seconds, monotonic)."""
        if msg.type in _NOISE:
            return
        if not self._player:
            if not (msg.type == "note_on" and msg.velocity > 0):
                return  # a session begins with a note, not with a knob turned in between
            self._began = when
        self._player.append((when - self._began, msg))
        if msg.type == "note_on" and msg.velocity > 0:
            self._last_played = when

    def jamd(self, data: list[int]) -> None:
        """A message jamd sent just now (bytes), inside a session only: no file of jamd alone."""
        if not self._player:
            return
        try:
            msg = mido.Message.from_bytes(data)
        except ValueError:
            return
        self._jamd.append((self._clock() - self._began, msg))

    def check(self, now: float) -> None:
        """End the session once the player has been silent ``idle`` seconds (call often; cheap)."""
        if self._player and now - self._last_played >= self.idle:
            self._hand_over()

    def _hand_over(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() - (self._clock() - self._began)))
        self._jobs.put((self.folder / f"jam-{stamp}.mid", self._player, self._jamd))
        self._player, self._jamd = [], []

    def close(self, timeout: float = 10.0) -> None:
        """Save the session in progress and wait for the writer (at shutdown, after the last note-off)."""
        if self._player:
            self._hand_over()
        self._jobs.put(None)
        self._writer.join(timeout)

    # ---- writer thread ------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            path, player, jamd = job
            if path.exists():
                path = path.with_name(f"{path.stem}-{len(self.saved)}.mid")
            try:
                write_tracks(path, [("player", player), ("jamd", jamd)], self.config.tempo,
                             [(0.0, self.config.beats_per_bar, 4)])
            except JamdError as e:
                log.error("recording not saved: %s", e)
                continue
            self.saved.append(path)
            notes = sum(1 for _, m in jamd if m.type == "note_on" and m.velocity > 0)
            log.info("recorded %s: %d messages from the player, %d notes from jamd", path, len(player), notes)
