"""Soak: minutes of generated playing into a real `jamd run` on JACK; memory and latency at the start
and at the end, side by side, so a leak or a drift shows. Prints, asserts nothing.

The player plays two bars of a random-walk melody, leaves two bars for jamd's answer, and
again, for ``--minutes``. With MIDI thru on, each of the player's note-ons comes straight back
out of `jamd out`: the time from sending it to hearing it is jamd's whole live path (JACK in,
callback, queue, engine thread, JACK out), measured outside jamd. Memory is RSS minus
RssShmem from /proc/PID/status (JACK maps its shared memory into every client).

    .venv/bin/python bench/soak.py [--minutes 10] [--model folk] [--tempo 120]

Needs jackd (a dummy server is started if none answers).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import rtmidi  # noqa: E402

from latency import ensure_jack  # noqa: E402  (bench/latency.py: the same dummy JACK server)

JACK = rtmidi.API_UNIX_JACK
CLIENT = f"jamd-soak-{os.getpid()}"
WINDOW_SECONDS = 60.0  # the "start" and "end" samples: the first and the last minute of playing


def start_jamd(model: str, tempo: float) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "jamd.daemon.cli", "run", "--backend", "jack", "--virtual", "--thru",
                             "--stats", "--model", model, "--tempo", f"{tempo:g}", "--seed", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO,
                            env={**os.environ, "JAMD_CLIENT_NAME": CLIENT})
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if " ready: " in line:
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(30):
        proc.kill()
        sys.exit("jamd did not get ready:\n" + "".join(lines))
    return proc, lines


def memory_mb(pid: int) -> float:
    """RSS minus RssShmem of ``pid``, MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssShmem"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"] - fields.get("RssShmem", 0.0)


class Player:
    """Plays into `jamd in`; times each thru echo of its own notes; counts jamd's notes."""

    def __init__(self):
        self.out = rtmidi.MidiOut(JACK, "soak-player")
        self.out.open_port(self._find(self.out, "jamd in"))
        self.inp = rtmidi.MidiIn(JACK, "soak-listener")
        self.sent: dict[int, float] = {}  # note -> when its note-on left here (monotonic seconds)
        self.echoes: list[tuple[float, float]] = []  # (when sent, round trip seconds)
        self.jamd_notes = 0
        self.sounding: set[tuple[int, int]] = set()
        self.inp.set_callback(self._heard)
        self.inp.open_port(self._find(self.inp, "jamd out"))
        time.sleep(0.2)

    @staticmethod
    def _find(port, name: str) -> int:
        return next(i for i, n in enumerate(port.get_ports()) if n.startswith(CLIENT) and n.endswith(":" + name))

    def _heard(self, event, _data) -> None:
        now, data = time.monotonic(), event[0]
        if len(data) < 3 or data[0] & 0xE0 != 0x80:
            return
        channel, note, on = data[0] & 0x0F, data[1], data[0] & 0xF0 == 0x90 and data[2] > 0
        if on:
            self.sounding.add((channel, note))
        else:
            self.sounding.discard((channel, note))
        if channel == 0 and on and note in self.sent:
            sent = self.sent.pop(note)
            self.echoes.append((sent, now - sent))
        elif channel != 0 and on:
            self.jamd_notes += 1

    def phrase(self, rng: random.Random, tempo: float, bars: int = 2) -> None:
        """``bars`` of 8th and 16th notes, a random walk in C major around middle C."""
        scale = [60, 62, 64, 65, 67, 69, 71, 72, 74]
        sixteenth = 60.0 / tempo / 4
        end = time.monotonic() + bars * 16 * sixteenth
        i = 4
        while time.monotonic() < end:
            i = min(max(i + rng.choice((-2, -1, 1, 2)), 0), len(scale) - 1)
            note = scale[i]
            self.sent[note] = time.monotonic()
            self.out.send_message([0x90, note, 70 + rng.randrange(40)])
            time.sleep(sixteenth * rng.choice((1, 2)) * 0.8)
            self.out.send_message([0x80, note, 0])
            time.sleep(sixteenth * 0.2)

    def close(self) -> None:
        for port in (self.out, self.inp):
            port.close_port()
            port.delete()


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    p50, p99 = np.percentile(np.array(values) * 1e3, [50, 99])
    return f"median {p50:6.3f} ms, p99 {p99:6.3f} ms ({len(values)} notes)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to play (minutes)")
    parser.add_argument("--model", default=os.environ.get("JAMD_TEST_MODEL", "folk"))
    parser.add_argument("--tempo", type=float, default=120.0, help="jamd's tempo and the player's (bpm)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = ensure_jack()
    proc, lines = start_jamd(args.model, args.tempo)
    player = Player()
    rng = random.Random(args.seed)
    bar = 60.0 / args.tempo * 4
    began = time.monotonic()
    mem_start = mem_end = None
    phrases = 0
    memory: list[tuple[float, float]] = []  # (minutes, MB) about once a minute: warm-up or a steady climb?
    try:
        while time.monotonic() - began < args.minutes * 60:
            player.phrase(rng, args.tempo)
            phrases += 1
            time.sleep(3.5 * bar)  # jamd answers after one bar of silence, for two bars
            if mem_start is None and time.monotonic() - began > min(10.0, args.minutes * 30):
                mem_start = memory_mb(proc.pid)  # after start-up allocations have settled
            minutes = (time.monotonic() - began) / 60
            if not memory or minutes - memory[-1][0] >= 1.0:
                memory.append((minutes, memory_mb(proc.pid)))
        mem_end = memory_mb(proc.pid)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        time.sleep(0.2)
    finally:
        player.close()
        if proc.poll() is None:
            proc.kill()
        if server is not None:
            server.terminate()
            server.wait()
    played = stopped - began
    window = min(WINDOW_SECONDS, played / 3)
    first = [rt for sent, rt in player.echoes if sent - began < window]
    last = [rt for sent, rt in player.echoes if sent > stopped - window]
    mem_start = mem_start if mem_start is not None else mem_end
    print(f"soak: {played / 60:.1f} min, {phrases} phrases, {len(player.echoes)} of the player's notes echoed, "
          f"{player.jamd_notes} notes from jamd; jamd exit code {code}")
    print(f"memory (RSS - RssShmem): start {mem_start:.1f} MB, end {mem_end:.1f} MB, "
          f"growth {mem_end - mem_start:+.1f} MB ({(mem_end - mem_start) / played * 3600:+.1f} MB/hour)")
    print("memory by minute (MB): " + ", ".join(f"{m:.0f}:{mb:.1f}" for m, mb in memory))
    print(f"round trip (send -> thru echo heard), first {window:.0f} s: {summary(first)}")
    print(f"round trip (send -> thru echo heard), last  {window:.0f} s: {summary(last)}")
    if first and last:
        print(f"median end/start ratio: {np.median(last) / np.median(first):.2f}x")
    print(f"notes left sounding after SIGTERM: {sorted(player.sounding) or 'none'}")
    for line in lines:
        if "stats:" in line or "latency" in line or "timing" in line or "dropped" in line:
            print("jamd:", line.strip()[:300])


if __name__ == "__main__":
    main()
