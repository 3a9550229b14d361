"""clock = "link" in the pure engine: samples of a session's timeline in, clicks on its beats and bars out.

The session here is arithmetic (beat = f(time)), sampled every 20 ms as daemon/link.py does;
tests/test_link.py does the same against a real Link peer.
"""

import math

from engine_helpers import make_engine

CLICK = 9  # metronome channel 10 on the wire
QUANTUM = 3  # engine_helpers' beats_per_bar
ACCENT = 110


class Session:
    """A Link timeline: ``bpm`` from ``phase`` beats at 0 s; ``change(at, bpm)`` keeps the beat continuous."""

    def __init__(self, bpm: float, phase: float):
        self.pieces = [(0.0, phase, bpm)]  # (from time, beat then, bpm)

    def change(self, at: float, bpm: float) -> None:
        self.pieces.append((at, self.beat(at), bpm))

    def piece(self, t: float):
        return next(p for p in reversed(self.pieces) if p[0] <= t)

    def beat(self, t: float) -> float:
        at, beat, bpm = self.piece(t)
        return beat + (t - at) * bpm / 60.0

    def bpm(self, t: float) -> float:
        return self.piece(t)[2]


def jam(engine, session: Session, end: float, playing=lambda t: None, every: float = 0.02):
    """Run ``engine`` to ``end`` seconds, a session sample every ``every`` s; return (time, velocity) of clicks."""
    out = engine.tick(0.0)
    t = 0.0
    while t < end:
        out += engine.link(t, session.beat(t), session.bpm(t), playing(t))
        t += every
        while (due := engine.next_tick_time()) <= t:
            out += engine.tick(due)
    return [(when, m.velocity) for when, m in out if m.type == "note_on" and m.channel == CLICK and m.velocity]


def off_grid(session: Session, t: float) -> tuple[float, int]:
    """(seconds from the session's nearest beat, that beat)."""
    beat = session.beat(t)
    return abs(beat - round(beat)) * 60.0 / session.bpm(t), round(beat)


def test_clicks_fall_on_the_sessions_beats_and_accents_on_its_bar_lines(folk_model):
    session = Session(120.0, phase=7.3)  # joined mid-bar, a third of a beat off jamd's own start
    clicks = jam(make_engine(folk_model, clock="link", metronome=True, tempo=90.0), session, 6.0)
    assert len(clicks) >= 10
    for when, velocity in clicks:
        off, beat = off_grid(session, when)
        assert off < 1e-6, (when, off)
        assert (velocity == ACCENT) == (beat % QUANTUM == 0), (beat, velocity)


def test_a_tempo_change_is_followed_within_a_beat(folk_model):
    session = Session(120.0, phase=0.0)
    session.change(3.01, 150.0)
    clicks = jam(make_engine(folk_model, clock="link", metronome=True), session, 7.0)
    after = [(t, v) for t, v in clicks if t > 3.01 + 60.0 / 150]
    assert len(after) >= 8
    assert max(off_grid(session, t)[0] for t, _ in after) < 1e-6
    gaps = {round(b - a, 6) for (a, _), (b, _) in zip(after, after[1:])}
    assert gaps == {0.4}, gaps  # every beat at 150 bpm


def test_a_jump_in_the_session_relocks_onto_its_grid(folk_model):
    session = Session(120.0, phase=0.0)
    # A peer moved the beat (re-enabled Link on another phase) while jamd's next click was planned.
    session.pieces.append((3.45, 10.37, 120.0))
    clicks = jam(make_engine(folk_model, clock="link", metronome=True), session, 6.0)
    after = [(t, v) for t, v in clicks if t > 3.47]  # from the first sample after the jump: nothing planned on the old beats
    assert len(after) >= 5 and max(off_grid(session, t)[0] for t, _ in after) < 1e-6, after


def test_transport_stop_silences_the_grid_and_start_restarts_it_on_the_bar(folk_model):
    session = Session(120.0, phase=0.0)
    playing = lambda t: not 2.0 <= t < 4.0  # noqa: E731
    engine = make_engine(folk_model, clock="link", metronome=True)
    clicks = jam(engine, session, 7.0, playing)
    assert not [t for t, _ in clicks if 2.05 <= t < 4.0]
    restarted = [(t, v) for t, v in clicks if t >= 4.0]
    assert len(restarted) >= 5
    for when, velocity in restarted:
        off, beat = off_grid(session, when)
        assert off < 1e-6 and (velocity == ACCENT) == (beat % QUANTUM == 0)
    assert engine.stats["resets"] >= 2  # the session's Start is a new song


def test_jamds_tempo_is_asked_of_the_session_and_midi_clock_is_ignored(folk_model):
    import mido

    engine = make_engine(folk_model, clock="link")
    engine.set("tempo", 90.0, 0.0)
    engine.set("tap", True, 1.0)
    engine.set("tap", True, 1.5)  # two taps half a second apart: 120 bpm
    assert engine.clock.tempo_request == (2, 120.0)
    for i in range(48):
        engine.handle(mido.Message("clock"), 2.0 + i * 0.01)
    assert not engine.clock.following and math.isclose(engine.clock.tempo, 120.0)
