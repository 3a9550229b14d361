"""jamd's live numbers, measured on real JACK ports against a real `jamd run`, printed not asserted.

1. start-to-ready (process start -> ports open, model loaded) and resident memory: RSS minus
   RssShmem from /proc/PID/status, since JACK maps ~100 MB of shared memory into every client;
2. processing latency per input event (callback receipt -> decision made and any immediate
   output sent; jamd measures it itself and logs it at exit), while a player plays phrases at a
   human rate with pauses that jamd answers and the next phrase barges in on, side by side with
   the seeds' way of choosing a note: tf-keras ``predict`` on a 64-step window through an LSTM
   of the same size (TensorFlow is imported only for that); beside it the floor, two bare
   Python threads handing over through a queue as jamd's callback and engine thread do, and
   jamd's output timing error; then the grid step's own work (LSTM step, short-term model);
3. a sustained flood of 2,000 messages/s (``--seconds``, default 60) with MIDI thru on: the
   input queue must not grow and every note-on must come back out.

``--osc-load`` measures instead the input path with and without an OSC client beside the
player (a fader sending 100 messages/s to ``--osc``, subscribed to what jamd does), jamd
runs alternating, ``--rounds`` of each, side by side.

    .venv/bin/python bench/latency.py [--model folk] [--seconds 60] [--events 1000] [--osc-load]

Needs jackd (a dummy server is started if none answers). Targets: p99 < 0.2 ms and >= 300x
faster than predict; no queue growth, no lost notes; < 100 MB; < 1.5 s to ready.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
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

from jamd.daemon.model import load_model  # noqa: E402
sys.path.insert(0, str(REPO / "bench"))
from model_step import per_step, print_short_term, short_term_candidates  # noqa: E402
from jamd.daemon.ports import unavailable_reason  # noqa: E402

JACK = rtmidi.API_UNIX_JACK
CLIENT = f"jamd-bench-{os.getpid()}"  # jamd's client name here: no other jamd is mistaken for it
PAUSE_SECONDS = 2.3  # more than one bar at 120 bpm: jamd answers, then the next phrase barges in


def ensure_jack() -> subprocess.Popen | None:
    if unavailable_reason("jack") is None:
        return None
    if not shutil.which("jackd"):
        sys.exit("bench needs a JACK server: apt-get install jackd2")
    # --sync: the dummy server waits for slow clients instead of dropping their MIDI (a loaded CI box).
    server = subprocess.Popen(["jackd", "--sync", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if unavailable_reason("jack") is None:
            return server
        time.sleep(0.1)
    sys.exit("jackd -d dummy did not start")


class Jamd:
    def __init__(self, model: str, *flags: str):
        self.began = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "jamd.daemon.cli", "run", "--backend", "jack", "--virtual",
                                      "--model", model, "--tempo", "120", "--seed", "1", *flags],
                                     stderr=subprocess.PIPE, text=True, cwd=REPO,
                                     env={**os.environ, "JAMD_CLIENT_NAME": CLIENT})
        self.lines: list[str] = []
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                if " ready: " in line:
                    self.ready_after = time.monotonic() - self.began
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            sys.exit("jamd did not get ready:\n" + "".join(self.lines))

    def memory_mb(self) -> tuple[float, float]:
        """(RSS - RssShmem, RssShmem) in MB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssShmem"):
                fields[key] = int(value.split()[0]) / 1024
        return fields["VmRSS"] - fields.get("RssShmem", 0.0), fields.get("RssShmem", 0.0)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        time.sleep(0.1)
        return "".join(self.lines)


def connect() -> tuple[rtmidi.MidiOut, rtmidi.MidiIn, list]:
    out = rtmidi.MidiOut(JACK, "bench-player")
    out.open_port(next(i for i, n in enumerate(out.get_ports()) if n.startswith(CLIENT) and n.endswith(":jamd in")))
    inp = rtmidi.MidiIn(JACK, "bench-listener")
    got: list = []
    inp.set_callback(lambda event, _: got.append(event[0]))
    inp.open_port(next(i for i, n in enumerate(inp.get_ports())
                       if n.startswith(CLIENT) and n.endswith(":jamd out")))
    time.sleep(0.2)
    return out, inp, got


def timing_from_log(log: str) -> str:
    m = re.search(r"output timing error \(sent - intended\): (.*)", log)
    return m[1] if m else "not logged"


def latency_from_log(log: str) -> tuple[float, float, int]:
    m = re.search(r"processing latency per input event: median ([\d.]+) ms, p99 ([\d.]+) ms \((\d+) samples", log)
    if not m:
        sys.exit("no latency line in jamd's log:\n" + log)
    return float(m[1]), float(m[2]), int(m[3])


def stats_from_log(log: str) -> dict:
    m = re.findall(r"stats: (\d+) in \((\d+) unreadable, (\d+) dropped, queue max (\d+)\), (\d+) out", log)
    received, bad, dropped, qmax, sent = map(int, m[-1])
    notes_in = re.findall(r"'notes_in': (\d+)", log)
    return {"received": received, "unreadable": bad, "dropped": dropped, "queue_max": qmax, "sent": sent,
            "notes_in": int(notes_in[-1]) if notes_in else -1}


def play_like_a_player(out, events: int) -> None:
    """Phrases of 16 notes at ~8 notes a second (16ths at 120 bpm), a scale up and down, each
    followed by a pause long enough for jamd to answer (one bar of silence) and be barged in on."""
    for i in range(events // 2):
        note = 60 + abs((i % 24) - 12)
        out.send_message([0x90, note, 90])
        time.sleep(0.03)
        out.send_message([0x80, note, 0])
        time.sleep(0.095 if i % 16 != 15 else PAUSE_SECONDS)


def handoff_floor(samples: int = 400) -> tuple[float, float]:
    """(median, p99) ms for one Python thread to wake another through a SimpleQueue, as jamd's
    MIDI callback wakes its engine thread: the part of jamd's latency that is the operating
    system and the interpreter, not jamd's work."""
    q: queue.SimpleQueue = queue.SimpleQueue()
    waits: list[float] = []

    def engine():
        while (sent := q.get()) is not None:
            waits.append(time.monotonic() - sent)
    thread = threading.Thread(target=engine)
    thread.start()
    for _ in range(samples):
        time.sleep(0.02)
        q.put(time.monotonic())
    q.put(None)
    thread.join()
    return float(np.median(waits) * 1e3), float(np.percentile(waits, 99) * 1e3)


def flood(out, seconds: float, rate: int = 2000) -> int:
    """``rate`` messages/s (note-on/off pairs on channel 1) for ``seconds``; returns note-ons sent."""
    batch, ons = rate // 100, 0
    began = time.monotonic()
    k = 0
    while time.monotonic() - began < seconds:
        for j in range(0, batch, 2):
            note = 36 + (k + j) % 48
            out.send_message([0x90, note, 80])
            out.send_message([0x80, note, 0])
            ons += 1
        k += 1
        time.sleep(max(0.0, began + k * 0.01 - time.monotonic()))
    return ons


def osc_fader(port: int, stop: threading.Event, rate: int = 100) -> int:
    """Send /jamd/temperature, sweeping like a fader, ``rate`` times a second until ``stop``; subscribed.

    Returns the messages sent. What jamd sends back (the subscription) is read and dropped.
    """
    import socket

    from pythonosc.osc_message_builder import OscMessageBuilder

    def message(address: str, *args) -> bytes:
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        return builder.build().dgram

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.01)
    jamd = ("127.0.0.1", port)
    sock.sendto(message("/jamd/subscribe"), jamd)
    sent, began = 0, time.monotonic()
    while not stop.is_set():
        sock.sendto(message("/jamd/temperature", 0.5 + 0.4 * abs((sent % 100) - 50) / 50), jamd)
        sent += 1
        while time.monotonic() < began + sent / rate:
            try:
                sock.recv(65536)
            except OSError:
                pass
    sock.close()
    return sent


def osc_load(model_path: str, events: int, rounds: int) -> None:
    """The input path's latency without and with an OSC client beside the player, alternating runs."""
    import socket

    results: dict[str, list] = {"player alone": [], "player + OSC 100 msg/s": []}
    sent_total = 0
    for _ in range(rounds):
        for label in results:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            jamd = Jamd(model_path, "--osc", str(port))
            out, inp, _ = connect()
            stop, fader = threading.Event(), None
            if label != "player alone":
                box: list = []
                fader = threading.Thread(target=lambda: box.append(osc_fader(port, stop)))
                fader.start()
            play_like_a_player(out, events)
            stop.set()
            if fader is not None:
                fader.join()
                sent_total += box[0]
            time.sleep(0.5)
            log = jamd.stop()
            out.delete(), inp.delete()
            results[label].append(latency_from_log(log))
    print(f"\ninput-path latency per event, {rounds} alternating runs of {events} events each "
          f"({sent_total} OSC messages sent in all):")
    print(f"  {'':26}{'median':>10}{'p99':>10}   per run (median / p99, ms)")
    medians = {}
    for label, runs in results.items():
        p50, p99 = float(np.median([r[0] for r in runs])), float(np.median([r[1] for r in runs]))
        medians[label] = (p50, p99)
        each = ", ".join(f"{a:.3f}/{b:.3f}" for a, b, _ in runs)
        print(f"  {label:26}{p50:>8.3f}ms{p99:>8.3f}ms   {each}")
    (a50, a99), (b50, b99) = medians.values()
    print(f"  {'ratio (with / without)':26}{b50 / a50:>9.2f}x{b99 / a99:>9.2f}x")


def seeds_predict(model_path: str, window: int = 64, runs: int = 200) -> tuple[float, float] | str:
    """(median, p99) ms of tf-keras predict on a ``window``-step window, the LSTM sized as the model."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tf_keras as keras
    except ImportError:
        return "skipped: TensorFlow/tf-keras not installed (pip install -e .[train])"
    model = load_model(model_path)
    vocab = len(model.vocab)
    sizes = [s.size for s in model.sidecar.state]
    layers = max(1, len(sizes) // 2)
    embedding = int(model.sidecar.training.get("embedding", model.sidecar.training.get("embedding_dim", 64)))
    net = keras.Sequential([keras.Input((window,), dtype="int32"), keras.layers.Embedding(vocab, embedding)]
                           + [keras.layers.LSTM(sizes[0], return_sequences=i < layers - 1) for i in range(layers)]
                           + [keras.layers.Dense(vocab, activation="softmax")])
    tokens = np.random.default_rng(1).integers(3, vocab, size=(1, window)).astype(np.int32)
    net.predict(tokens, verbose=0)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        probs = net.predict(tokens, verbose=0)
        int(np.argmax(probs[0]))
        times.append(time.perf_counter() - began)
    return float(np.median(times) * 1e3), float(np.percentile(times, 99) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("JAMD_TEST_MODEL", "folk"))
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the 2,000 msg/s flood")
    parser.add_argument("--events", type=int, default=1000, help="messages played at a human rate")
    parser.add_argument("--no-seeds", action="store_true", help="skip the TensorFlow predict column")
    parser.add_argument("--osc-load", action="store_true", help="only compare the input path without and with an "
                        "OSC client sending 100 messages/s beside the player")
    parser.add_argument("--rounds", type=int, default=2, help="--osc-load: runs of each, alternating")
    args = parser.parse_args()
    server = ensure_jack()
    model = load_model(args.model)
    model_path = str(model.path)
    if args.osc_load:
        try:
            osc_load(model_path, args.events, args.rounds)
        finally:
            if server is not None:
                server.terminate()
                server.wait()
        return
    try:
        # 1 + 2: start (the median of three: the first run also warms the disk cache), memory,
        # latency at a human rate.
        starts = []
        for _ in range(2):
            first = Jamd(model_path)
            starts.append(first.ready_after)
            first.stop()
        jamd = Jamd(model_path)
        starts.append(jamd.ready_after)
        out, inp, got = connect()
        idle_mb, shm_mb = jamd.memory_mb()
        play_like_a_player(out, args.events)
        time.sleep(0.5)
        busy_mb, _ = jamd.memory_mb()
        log = jamd.stop()
        out.delete(), inp.delete()
        p50, p99, n = latency_from_log(log)
        timing = timing_from_log(log)
        answers = re.findall(r"'answers': (\d+), 'barge_ins': (\d+)", log)
        floor = handoff_floor()
        print(f"start to ready: {np.median(starts):.2f} s median of {', '.join(f'{t:.2f}' for t in starts)} "
              "(target < 1.5 s)")
        print(f"resident memory (RSS - RssShmem): {idle_mb:.1f} MB idle, {busy_mb:.1f} MB after playing "
              f"(+{shm_mb:.0f} MB JACK shared memory; target < 100 MB)")
        seeds = "skipped (--no-seeds)" if args.no_seeds else seeds_predict(model_path)
        print(f"\nprocessing latency per input event, {n} events at a human rate:")
        print(f"  {'':34}{'median':>10}{'p99':>10}")
        print(f"  {'jamd (callback -> decision sent)':34}{p50:>8.3f}ms{p99:>8.3f}ms")
        if isinstance(seeds, str):
            print(f"  seeds' predict on a 64-step window: {seeds}")
        else:
            print(f"  {'seeds: keras predict, 64 steps':34}{seeds[0]:>8.3f}ms{seeds[1]:>8.3f}ms")
            print(f"  {'ratio (seeds / jamd)':34}{seeds[0] / p50:>9.0f}x{seeds[1] / p99:>9.0f}x"
                  "   (target: p99 < 0.2 ms, >= 300x)")
        print(f"  {'of which: waking a Python thread':34}{floor[0]:>8.3f}ms{floor[1]:>8.3f}ms"
              "   (the floor: two bare threads and a SimpleQueue, measured now)")
        if answers:
            print(f"  jamd answered {answers[-1][0]} times, the player barged in {answers[-1][1]} times")
        print(f"  output timing error (sent - intended): {timing}")

        # The grid step's own work, off the input path: the LSTM step and the short-term model.
        short, candidates = short_term_candidates(model)
        t = per_step({"jamd": lambda i: model.step(3 + i % 20), "feed": lambda i: model.feed(3 + i % 20),
                      **candidates}, 2000)
        print(f"\nper grid step (not on the input path): LSTM step {t['jamd']:.1f} us, of which the "
              f"softmax, only when jamd plays, {t['jamd'] - t['feed']:.1f} us")
        print_short_term(short, t)

        # 3: sustained flood with thru: every note-on must come back out on the player's channel.
        jamd = Jamd(model_path, "--thru")
        out, inp, got = connect()
        sent_ons = flood(out, args.seconds)
        time.sleep(1.0)
        echoed = sum(1 for m in list(got) if m[0] == 0x90 and m[2] > 0)
        log = jamd.stop()
        out.delete(), inp.delete()
        stats = stats_from_log(log)
        p50, p99, _ = latency_from_log(log)
        print(f"\nsustained 2,000 msg/s for {args.seconds:g} s (MIDI thru on):")
        print(f"  sent {2 * sent_ons} messages, jamd's callbacks got {stats['received']} "
              f"({2 * sent_ons - stats['received']} lost by JACK before jamd: xruns of a non-realtime server)")
        print(f"  jamd dropped {stats['dropped']}, input queue at most {stats['queue_max']} deep, "
              f"latency median {p50:.3f} ms, p99 {p99:.3f} ms")
        print(f"  note-ons jamd took in: {stats['notes_in']}, echoed back out: {echoed} "
              f"({stats['notes_in'] - echoed} lost inside jamd or on the way back)")
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
