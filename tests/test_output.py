"""The service's output boundary: messages at their time, and nothing left hanging when it stops."""

from __future__ import annotations

import math

import mido

from jamd.daemon.output import Output, Samples


def on(note, channel=1, velocity=90):
    return mido.Message("note_on", channel=channel, note=note, velocity=velocity)


def off(note, channel=1):
    return mido.Message("note_off", channel=channel, note=note)


class Wire:
    """What reached the output port, as mido messages, with a clock the test moves."""

    def __init__(self):
        self.now = 0.0
        self.sent: list[tuple[float, mido.Message]] = []

    def send(self, data):
        self.sent.append((self.now, mido.Message.from_bytes(data)))

    def sounding(self):
        notes = set()
        for _, m in self.sent:
            if m.type == "note_on" and m.velocity:
                notes.add((m.channel, m.note))
            elif m.type in ("note_on", "note_off"):
                notes.discard((m.channel, m.note))
        return notes


def test_messages_wait_for_their_time_and_timing_error_is_measured():
    wire = Wire()
    out = Output(wire.send, clock=lambda: wire.now)
    out.schedule([(0.0, on(60)), (0.5, off(60)), (0.5, on(62))], now=0.0)
    assert [m.note for _, m in wire.sent] == [60]
    assert out.next_time() == 0.5
    wire.now = 0.503  # woke 3 ms late
    out.send_due(wire.now)
    assert [(m.type, m.note) for _, m in wire.sent] == [("note_on", 60), ("note_off", 60), ("note_on", 62)]
    p50, p99 = out.timing.percentiles()
    assert math.isclose(p99, 0.003, abs_tol=1e-9)


def test_stop_drops_pending_note_ons_and_sends_the_engines_note_offs():
    wire = Wire()
    out = Output(wire.send, clock=lambda: wire.now)
    out.schedule([(0.0, on(60)), (0.0, on(9, channel=9)), (1.0, off(60)), (1.0, on(64)), (1.5, off(64))], now=0.0)
    wire.now = 0.2
    # The engine's Outbox owns what sounds: its silence names both notes.
    out.flush(0.2, silence=[(0.2, off(60)), (0.2, off(9, channel=9)),
                            (0.2, mido.Message("control_change", channel=1, control=123))], channels={1})
    assert wire.sounding() == set()
    assert not any(m.type == "note_on" and m.note == 64 for _, m in wire.sent), "a pending note-on went out"
    assert out.next_time() == math.inf
    ccs = {(m.channel, m.control, m.value) for _, m in wire.sent if m.type == "control_change"}
    assert {(1, 64, 0), (1, 123, 0), (9, 64, 0), (9, 123, 0)} <= ccs
    assert all(t == 0.2 for t, _ in wire.sent[2:])


def test_all_notes_off_goes_to_every_channel_a_note_went_out_on():
    wire = Wire()
    out = Output(wire.send)
    out.schedule([(0.0, on(60)), (0.0, on(60, velocity=0)), (0.0, on(61, channel=3))], now=0.0)
    out.flush(0.0, silence=[], channels=set())
    all_off = {m.channel for _, m in wire.sent if m.type == "control_change" and m.control == 123}
    assert all_off == {1, 3}


def test_samples_keep_a_bounded_window():
    samples = Samples(size=4)
    for ms in (1, 2, 3, 4, 100, 100, 100, 100):
        samples.add(ms / 1000)
    assert samples.count == 8
    assert samples.percentiles()[0] == 0.1
    assert Samples().summary() == "none"
