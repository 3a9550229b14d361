"""``jamd doctor``: what works, what is connected, and what to do about each problem found.

Checks each MIDI backend and lists its ports, loads the model and times one step, looks for a
running jamd's ports and whether anything is connected to ``jamd in`` and ``jamd out``
(JACK: ``jack_lsp -c``; ALSA: ``aconnect -l``, since rtmidi cannot list connections), and
whether the engine thread may use real-time priority. Every problem comes with a fix.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from jamd.daemon import ports as midi
from jamd.daemon.errors import JamdError

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"  # Debian/Raspberry Pi OS: apt install fluid-soundfont-gm
FLUIDSYNTH_ALSA = f"fluidsynth -a alsa -m alsa_seq -s -i {SOUNDFONT}"
FLUIDSYNTH_JACK = f"fluidsynth -a jack -m jack -s -i {SOUNDFONT}"


@dataclass(frozen=True)
class Report:
    """What the doctor found: ``lines`` to print, and ``problems`` each with what to do."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


FLUIDSYNTH_JACK_MIDI = "fluidsynth-midi:midi_00"  # the MIDI port `fluidsynth -m jack` opens


@dataclass
class JackPort:
    """One port as ``jack_lsp -c -p -t`` lists it."""

    peers: list[str] = field(default_factory=list)
    properties: set[str] = field(default_factory=set)  # input, output, physical, terminal
    kind: str = ""  # "8 bit raw midi", "32 bit float mono audio"

    @property
    def midi(self) -> bool:
        return "midi" in self.kind

    @property
    def audio(self) -> bool:
        return "audio" in self.kind


def jack_ports(text: str) -> dict[str, JackPort]:
    """``jack_lsp -c -p -t`` output -> {port: JackPort}. Connections are the lines indented by
    spaces under a port, its properties and type the lines indented by a tab."""
    ports: dict[str, JackPort] = {}
    port = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t") and port is not None:
            value = line.strip()
            if value.startswith("properties:"):
                port.properties = {p for p in value.split(":", 1)[1].split(",") if p.strip()}
                port.properties = {p.strip() for p in port.properties}
            else:
                port.kind = value
        elif line[0].isspace() and port is not None:
            port.peers.append(line.strip())
        else:
            port = ports.setdefault(line.strip(), JackPort())
    return ports


def jack_connections(text: str) -> dict[str, list[str]]:
    """``jack_lsp -c`` output -> {port: [ports connected to it]}; connections are the indented lines."""
    return {name: port.peers for name, port in jack_ports(text).items()}


def alsa_connections(text: str) -> dict[str, list[str]]:
    """``aconnect -l`` output -> {"client name:port name (client:port)": [peer addresses]}."""
    graph: dict[str, list[str]] = {}
    client = number = port = None
    for line in text.splitlines():
        head = re.match(r"client (\d+): '(.*?)'", line)
        entry = re.match(r"\s+(\d+) '(.*?)\s*'$", line)
        link = re.match(r"\s+(Connecting To|Connected From): (.*)", line)
        if head:
            number, client = head.group(1), head.group(2)
        elif entry and client is not None:
            port = f"{client}:{entry.group(2)} ({number}:{entry.group(1)})"
            graph[port] = []
        elif link and port is not None:
            # "Connecting To: 130:0, 131:0[real:0]": timestamp queues in brackets are noise here.
            graph[port] += [re.sub(r"\[.*?\]", "", p).strip() for p in link.group(2).split(",")]
    return graph


def _graph(backend: str) -> dict | None:
    """{port: JackPort} on JACK, {port: [peers]} on ALSA; None without the tool."""
    tool = {"jack": ["jack_lsp", "-c", "-p", "-t"], "alsa": ["aconnect", "-l"]}.get(backend)
    if tool is None or shutil.which(tool[0]) is None:
        return None
    try:
        result = subprocess.run(tool, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (jack_ports if backend == "jack" else alsa_connections)(result.stdout)


def _jamd_ports(graph: dict, backend: str) -> dict[str, list[str]]:
    if backend == "jack":
        return {p: port.peers for p, port in graph.items() if midi.is_own_port(p)}
    own = re.compile(rf"{re.escape(midi.CLIENT)}(-\d+)?:jamd (in|out)\b")
    return {p: peers for p, peers in graph.items() if own.match(p)}


def check_backend(backend: str, report: Report) -> None:
    reason = midi.unavailable_reason(backend)
    if reason:
        report.lines.append(f"{backend}: unavailable: {reason}")
        return
    inputs, outputs = midi.list_ports(backend)
    report.lines.append(f"{backend}: available; inputs (players): {', '.join(inputs) or 'none'}; "
                        f"outputs (synths): {', '.join(outputs) or 'none'}")
    synth = FLUIDSYNTH_JACK if backend == "jack" else FLUIDSYNTH_ALSA
    synths = [o for o in outputs if "through" not in o.lower() and not midi.is_own_port(o)]
    players = [i for i in inputs if "through" not in i.lower() and not midi.is_own_port(i)]
    if not synths:
        report.problems.append(f"{backend}: no synth to play to: start one, e.g. `{synth}` "
                               "(apt install fluidsynth fluid-soundfont-gm), or a DAW or hardware synth")
    graph = _graph(backend)
    if graph is None:
        tool = "jack_lsp (apt install jackd2)" if backend == "jack" else "aconnect (apt install alsa-utils)"
        report.lines.append(f"{backend}: cannot see connections without {tool}")
        return
    own = _jamd_ports(graph, backend)
    if not own:
        report.lines.append(f"{backend}: no jamd running (client '{midi.CLIENT}')")
        report.problems.append(f"{backend}: jamd is not running: start it with `jamd run --backend {backend}` "
                               "or `sudo systemctl start jamd`, then run `jamd doctor` again")
        return
    for port, peers in sorted(own.items()):
        report.lines.append(f"{backend}: {port}: " + (f"connected to {', '.join(peers)}" if peers
                                                      else "not connected"))
        if peers:
            continue
        if " out" in port:
            report.problems.append(f"{backend}: nothing hears {port}: " + _to_synth(backend, port, synths, synth))
        else:
            report.problems.append(f"{backend}: {port} hears no player: " + _from_player(backend, port, players))
    if backend == "jack":
        check_synth_audio(graph, report)


def _quote(port: str) -> str:
    return "'" + port.replace("'", "'\\''") + "'"


def _to_synth(backend: str, port: str, synths: list[str], start: str) -> str:
    """What to run so a synth hears jamd's ``port``: the commands as they can be pasted."""
    if backend == "jack":
        if synths:
            return f"connect it to a synth: `jack_connect {_quote(port)} {_quote(synths[0])}`"
        return (f"start a synth, e.g. `{start}`, then `jack_connect {_quote(port)} {FLUIDSYNTH_JACK_MIDI}` "
                "(or a patchbay: qjackctl, Helvum)")
    if synths:
        return f"connect it to a synth: `aconnect {_address(port)} {_alsa_address(synths[0])}`"
    return (f"start a synth, e.g. `{start}`, then `aconnect {_address(port)} 'FLUID Synth'` "
            "(or a patchbay: amidiminder, qjackctl)")


def _from_player(backend: str, port: str, players: list[str]) -> str:
    if backend == "jack":
        if players:
            return (f"connect your keyboard: `jack_connect {_quote(players[0])} {_quote(port)}` "
                    "(`jack_lsp` lists the others), or restart jamd with --input KEYBOARD")
        return ("no keyboard on JACK: USB keyboards appear once `a2jmidid -e` runs (or under PipeWire); "
                "then `jack_lsp` names it for `jack_connect`, or restart jamd with --input KEYBOARD")
    if players:
        return (f"connect your keyboard: `aconnect {_alsa_address(players[0])} {_address(port)}` "
                "(`aconnect -l` lists the others), or restart jamd with --input KEYBOARD")
    return "no keyboard found: plug one in (`aconnect -l` lists it), or restart jamd with --input KEYBOARD"


def check_synth_audio(ports: dict[str, JackPort], report: Report) -> None:
    """A synth (a client with a MIDI input and audio outputs) whose audio goes nowhere plays to no one."""
    playback = [n for n, p in ports.items() if p.audio and {"input", "physical"} <= p.properties]
    clients: dict[str, list[str]] = {}
    for name, port in ports.items():
        client = name.split(":")[0]
        if port.audio and "output" in port.properties and "physical" not in port.properties:
            clients.setdefault(client, []).append(name)
    for client, audio in sorted(clients.items()):
        has_midi_in = any(n.split(":")[0] == client and p.midi and "input" in p.properties for n, p in ports.items())
        if not has_midi_in or any(ports[a].peers for a in audio):
            continue
        pairs = " && ".join(f"jack_connect {_quote(a)} {_quote(b)}" for a, b in zip(audio, playback))
        how = f"`{pairs}`" if pairs else "connect them to your sound card's playback ports"
        report.problems.append(f"jack: synth {client}'s audio outputs ({', '.join(audio)}) are connected to "
                               f"nothing, so nothing is heard: {how} (FluidSynth does it itself with "
                               "`-o audio.jack.autoconnect=1`)")


def _alsa_address(port: str) -> str:
    """An ALSA port as rtmidi names it ("FLUID Synth (123):Synth input port (123:0) 128:0"): its
    client:port address, or the quoted name if it has none."""
    found = re.search(r"(\d+:\d+)$", port)
    return found.group(1) if found else _quote(port)


def _address(port: str) -> str:
    found = re.search(r"\((\d+:\d+)\)$", port)
    return found.group(1) if found else f"'{port}'"


def check_model(name: str, report: Report) -> None:
    from jamd.daemon.model import load_model  # onnxruntime: only when asked

    try:
        model = load_model(name)
    except JamdError as e:
        report.lines.append(f"model {name}: FAILED")
        report.problems.append(f"model: {e}")
        return
    steps, began = 200, time.perf_counter()
    for i in range(steps):
        model.step(i % len(model.vocab))
    micros = (time.perf_counter() - began) / steps * 1e6
    report.lines.append(f"model {model.name} ({model.path}): {model.sidecar.kind}, {len(model.vocab)} tokens, "
                        f"one step {micros:.0f} us")


def check_priority(report: Report) -> None:
    """Whether this user may raise a thread to SCHED_FIFO (LimitRTPRIO / limits.conf rtprio)."""
    from jamd.daemon.service import RT_PRIORITY

    if not hasattr(os, "sched_setscheduler"):  # macOS: CoreMIDI's own threads are real-time already
        report.lines.append("real-time priority: not applicable on this platform")
        return
    refused: list[str] = []

    def probe() -> None:  # a throw-away thread: the same request the engine thread makes
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        except OSError as e:
            refused.append(e.strerror or str(e))
    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    privileged = not refused
    soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    if privileged:
        report.lines.append(f"real-time priority: allowed (engine thread asks for SCHED_FIFO {RT_PRIORITY})")
    else:
        report.lines.append(f"real-time priority: not allowed ({refused[0]}; RLIMIT_RTPRIO {soft})")
        report.problems.append("priority: jamd's engine thread will run at normal priority: under systemd the unit's "
                               "LimitRTPRIO allows it; by hand, add yourself to the audio group and put "
                               "`@audio - rtprio 95` in /etc/security/limits.d/audio.conf, then log in again")


def diagnose(model: str, backend: str = "auto") -> Report:
    """Run every check; ``backend`` auto = every backend this platform has."""
    report = Report()
    report.lines.append(f"jamd doctor: python {sys.version.split()[0]}, {sys.platform}")
    names = ["alsa", "jack"] + {"darwin": ["coremidi"], "win32": ["winmm"]}.get(sys.platform, [])
    for name in names if backend == "auto" else [backend]:
        check_backend(name, report)
    if all(": unavailable: " in line for line in report.lines[1:]):
        report.problems.append("MIDI: no backend usable: each line above says what to do for one of them")
    check_model(model, report)
    check_priority(report)
    return report


def render(report: Report) -> str:
    text = "\n".join(report.lines)
    if not report.problems:
        return text + "\nno problems found"
    return text + f"\n{len(report.problems)} problem(s), and what to do:\n" + "\n".join(
        f"  - {p}" for p in report.problems)
