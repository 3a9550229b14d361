"""Any bytes a MIDI cable, a JACK client or a confused controller hands the input path: the
service's message path (``Service._input``, what the engine thread runs for each callback)
never raises, sends only valid MIDI, leaves nothing sounding, and answers an ordinary phrase
afterwards.

Each callback is what one backend event carries: a message, a status byte lost (running status),
a message cut short, stray data bytes, sysex split across two callbacks, on all 16 channels.
The engine thread's loop is run here step by step, at synthetic times, the way it runs live.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jamd.daemon.config import Config
from jamd.daemon.engine import Engine
from jamd.daemon.service import Service
from test_systemd import _Ports

JAMD = 1  # jamd's channel (0-based)
JAMD_KNOBS = set(range(21, 30))  # a random CC there mutes jamd or changes its mode: tested elsewhere

data = st.integers(0, 127)
any_byte = st.integers(0, 255)
channel_status = st.builds(lambda kind, channel: kind | channel, st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xC0,
                                                                                  0xD0, 0xE0]), st.integers(0, 15))
controls = data.filter(lambda c: c not in JAMD_KNOBS)
callbacks = st.one_of(
    st.builds(lambda s, n, v: [s, n, v], st.sampled_from([0x80, 0x90]), data, data),  # notes on channel 1
    st.builds(lambda s, n, v: [s, n, v], channel_status, data, data),  # any channel message, 3 bytes
    st.builds(lambda c, n, v: [0x90 | c, n, v], st.integers(0, 15), data, data),  # notes on all 16 channels
    st.builds(lambda c, n, v: [0xB0 | c, n, v], st.integers(0, 15), controls, data),
    st.lists(data, min_size=1, max_size=3),  # running status: data bytes with no status
    st.builds(lambda s: [s], channel_status),  # a message cut short after its status
    st.builds(lambda s, d: [s, d], channel_status, data),
    st.lists(any_byte, min_size=1, max_size=6),  # anything at all
    st.builds(lambda d: [0xF0, *d], st.lists(data, max_size=6)),  # sysex whose end comes in the next callback
    st.builds(lambda d: [*d, 0xF7], st.lists(data, max_size=6)),  # ...the end of it
    st.builds(lambda d: [0xF0, *d, 0xF7], st.lists(data, max_size=6)),
    st.sampled_from([[0xF8], [0xFA], [0xFB], [0xFC], [0xFE], [0xFF], [0xF1, 3], [0xF2, 1, 2], [0xF3, 1], [0xF6]]),
)
# A sequencer: Start (or not), a run of pulses at 120 bpm, then Stop, Continue or nothing.
clock_runs = st.builds(
    lambda start, pulses, end: [(0.0, start)] * bool(start) + [(60 / (120 * 24), [0xF8])] * pulses + [(0.0, end)] * bool(end),
    st.sampled_from([[], [0xFA], [0xFB]]), st.integers(0, 60), st.sampled_from([[], [0xFC], [0xFB]]))
# Each: a pause of 0-300 ms, then one callback's bytes.
streams = st.lists(st.one_of(st.tuples(st.floats(0.0, 0.3), callbacks).map(lambda item: [item]), clock_runs),
                   max_size=40).map(lambda runs: [item for run in runs for item in run])


class Live:
    """The engine thread's loop, run at synthetic times: the input path, grid steps and output."""

    def __init__(self, engine: Engine):
        self.ports = _Ports()
        self.service = Service(engine.config, self.ports, engine)
        self.engine = engine
        # The service stamps what it schedules with time.monotonic(): synthetic times in the past
        # of it, so nothing the input path decides waits on the wall clock.
        self.base = time.monotonic() - 1000.0
        self.now = self.base
        self.service.output.schedule(engine.tick(self.base), self.base)  # the grid starts at 0 s

    def until(self, when: float, absolute: bool = True) -> None:
        """Run every grid step and send every message due by ``when`` (seconds)."""
        when = when if absolute else when + self.base
        engine, output = self.engine, self.service.output
        while (due := min(engine.next_tick_time(), output.next_time())) <= when:
            self.now = max(self.now, due)
            output.schedule(engine.tick(self.now), self.now)
            output.send_due(self.now)
        self.now = when

    def callback(self, when: float, data: list[int]) -> None:
        """One backend callback with ``data`` at ``when`` (seconds after the start)."""
        when += self.base
        self.until(when)
        self.service._input(list(data), when, 0, self.engine.next_tick_time())
        self.service.output.send_due(when)

    def sounding(self) -> set[tuple[int, int]]:
        """(channel, note) jamd left on, from the bytes it sent."""
        on = set()
        for sent in self.ports.sent:
            if sent[0] & 0xF0 == 0x90 and sent[2]:
                on.add((sent[0] & 0x0F, sent[1]))
            elif sent[0] & 0xF0 in (0x80, 0x90):
                on.discard((sent[0] & 0x0F, sent[1]))
        return on


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams, seed=st.integers(0, 2**16))
def test_any_bytes_into_the_input_path_then_a_phrase_gets_an_answer(folk_model, stream, seed):
    engine = Engine(Config(tempo=120.0, seed=seed), folk_model, np.random.default_rng(seed))
    live = Live(engine)
    now = 0.0
    for pause, data in stream:
        now += pause
        live.callback(now, data)
    # The player's panic (all notes off on every channel), then a phrase 3 s later.
    for channel in range(16):
        live.callback(now, [0xB0 | channel, 123, 0])
    start = now + 3.0
    for i, note in enumerate((60, 62, 64, 65, 67, 65, 64, 62)):
        live.callback(start + 0.5 * i, [0x90, note, 90])
        live.callback(start + 0.5 * i + 0.4, [0x80, note, 0])
    end = start + 0.5 * 7 + 0.4
    sent_before = len(live.ports.sent)
    live.until(end + 4.0, absolute=False)  # 8 beats at 120 bpm: the answer comes after a bar of silence
    answer = [m for m in live.ports.sent[sent_before:] if m[0] == 0x90 | JAMD and m[2]]
    live.service._silence(live.now)
    for sent in live.ports.sent:
        assert 0x80 <= sent[0] <= 0xEF and all(0 <= b < 0x80 for b in sent[1:]), f"invalid MIDI sent: {sent}"
    assert answer, "jamd did not answer the phrase after that input"
    assert not live.sounding(), f"left sounding: {live.sounding()}"
