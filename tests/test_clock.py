"""Following MIDI clock: the tempo jamd measures from the pulses and the times its notes go out.

Pulse times are arrival times, as the MIDI callback stamps them: jitter, a sender that stalls
and catches up, a locate and a JACK backend handing over a period's pulses at once are built
here, seeded, so each case is the same on every run.
"""

import math
import random
import threading

import mido
import pytest

from jamd.daemon.clock import PPQN
from engine_helpers import make_engine, note_ons, run
from test_engine import JAMD

CLICK = 9  # metronome channel 10 on the wire
UPTIME = 86_400.0  # a monotonic clock a day after boot


def steady(bpm, beats, start=0.5, jitter=0.0, seed=0):
    """Arrival times (seconds) of ``beats`` beats of clock at ``bpm``, each off by up to ``jitter``."""
    rng = random.Random(seed)
    return [start + i * 60.0 / (bpm * PPQN) + rng.uniform(-jitter, jitter) for i in range(beats * PPQN)]


def held_back(times, last, count):
    """``times`` with the ``count`` pulses up to ``last`` delivered together when ``last`` is due.

    A sender that stalls and catches up; the callback stamps them a few microseconds apart.
    """
    out = list(times)
    for j, i in enumerate(range(last - count + 1, last + 1)):
        out[i] = times[last] + j * 5e-6
    return out


def jack_periods(times, frames=1024, rate=48_000):
    """``times`` as a JACK backend hands them over: every pulse of a period at the period's end."""
    period, out = frames / rate, []
    for t in times:
        stamp = math.ceil(t / period) * period
        out.append(max(stamp, out[-1] + 5e-6) if out else stamp)
    return out


def clock(times):
    return [(t, mido.Message("clock")) for t in times]


def follow(engine, events, until):
    """What ``engine`` sends for ``events`` through ``until`` and the tempo it follows after each pulse."""
    out, tempos = [], []
    for when, msg in events:
        out += run(engine, [(when, msg)], until=when)
        if msg.type == "clock":
            tempos.append(engine.clock.tempo)
    return out + run(engine, [], until=until), tempos


def playing(events, times):
    """``events`` with the player's eighth notes on the pulses: duet joins once it has heard the key."""
    notes = []
    for i in range(len(times) // (PPQN // 2)):
        pitch = (62, 66, 69, 74, 69, 66)[i % 6]
        at = times[i * PPQN // 2] + 0.005
        notes += [(at, mido.Message("note_on", note=pitch, velocity=80)), (at + 0.1, mido.Message("note_off", note=pitch))]
    return sorted(events + notes, key=lambda e: e[0])


def clicks(out):
    return [t for t, _ in note_ons(out, CLICK)]


def assert_every_step_once(out, times, steps_per_beat):
    """Every beat clicks once, on the pulse that begins it, and jamd plays on step pulses in order."""
    assert clicks(out) == times[::PPQN]
    played = [t for t, _ in note_ons(out, JAMD)]
    assert len(played) > 8 and played == sorted(played)
    assert set(played) <= set(times[:: PPQN // steps_per_beat])


@pytest.mark.parametrize("bpm", [90.0, 120.0, 180.0])
def test_a_steady_clock_with_jitter_gives_its_tempo_and_notes_land_on_its_pulses(folk_model, bpm):
    times = steady(bpm, beats=8, start=UPTIME, jitter=0.001, seed=int(bpm))
    engine = make_engine(folk_model, mode="duet", clock="midi", metronome=True)
    out, tempos = follow(engine, playing([(UPTIME - 0.01, mido.Message("start"))] + clock(times), times),
                         until=times[-1])
    assert tempos[PPQN:] == pytest.approx([bpm] * (len(tempos) - PPQN), rel=0.01)  # from the second beat on
    assert tempos[-1] == pytest.approx(bpm, rel=0.003)
    assert_every_step_once(out, times, folk_model.steps_per_beat)  # beat 1: the first pulse after Start


def _bunched(kind):
    """8 beats of 120 bpm clock with pulses bunched the way ``kind`` bunches them: events, times."""
    times = steady(120.0, beats=8)
    if kind == "sender stalls and catches up":
        times = held_back(times, last=4 * PPQN, count=10)
        return clock(times), times
    # A locate: Stop, Song Position, Continue a second later; the sequencer sends the first
    # quarter beat at once, then goes on.
    before, after = times[: 4 * PPQN], [t + 1.0 for t in times[4 * PPQN:]]
    after = held_back(after, last=PPQN // 4 - 1, count=PPQN // 4)
    stop = before[-1] + 0.01
    return clock(before) + [(stop, mido.Message("stop")), (stop, mido.Message("songpos", pos=16)),
                            (after[0] - 0.01, mido.Message("continue"))] + clock(after), before + after


@pytest.mark.parametrize("kind", ["sender stalls and catches up", "locate"])
def test_bunched_pulses_leave_the_tempo_and_the_grid_alone(folk_model, kind):
    events, times = _bunched(kind)
    engine = make_engine(folk_model, mode="duet", clock="midi", metronome=True)
    out, tempos = follow(engine, playing([(0.49, mido.Message("start"))] + events, times), until=times[-1])
    assert tempos[PPQN:] == pytest.approx([120.0] * (len(tempos) - PPQN), rel=0.005)
    assert_every_step_once(out, times, folk_model.steps_per_beat)


@pytest.mark.parametrize("bpm", [90.0, 120.0, 180.0])
def test_pulses_a_jack_period_hands_over_together_give_the_tempo_within_a_period(folk_model, bpm):
    """1024 frames at 48 kHz: every pulse of a 21 ms period is stamped at its end."""
    times = jack_periods(steady(bpm, beats=8), frames=1024)
    engine = make_engine(folk_model, mode="duet", clock="midi", metronome=True)
    out, tempos = follow(engine, playing([(0.49, mido.Message("start"))] + clock(times), times), until=times[-1])
    # Stamps up to a period late, measured over at least half a beat, say the tempo no better.
    rel = (1024 / 48_000) / (30.0 / bpm)
    assert tempos[PPQN:] == pytest.approx([bpm] * (len(tempos) - PPQN), rel=rel)
    assert_every_step_once(out, times, folk_model.steps_per_beat)


def test_a_players_note_late_in_its_step_is_answered_on_the_next_step_after_a_stall(folk_model):
    times = held_back(steady(120.0, beats=8), last=4 * PPQN, count=10)
    late = times[4 * PPQN] + 0.04  # a third of a 125 ms step after the pulse: still that step
    player = [(late, mido.Message("note_on", note=67, velocity=90)),
              (late + 0.2, mido.Message("note_off", note=67))]
    engine = make_engine(folk_model, mode="next", clock="midi")
    events = sorted([(0.49, mido.Message("start"))] + clock(times) + player, key=lambda e: e[0])
    out, _ = follow(engine, events, until=times[-1])
    next_step = times[4 * PPQN + PPQN // folk_model.steps_per_beat]
    assert [t for t, _ in note_ons(out, JAMD)][:1] == [next_step]


def test_auto_clock_falls_back_at_the_tempo_it_followed_even_after_a_stall(folk_model):
    """The sender stalls, hands over what it held back, and is unplugged: jamd keeps 120 bpm."""
    times = held_back(steady(120.0, beats=4), last=4 * PPQN - 1, count=10)
    engine = make_engine(folk_model, mode="duet", tempo=100.0, metronome=True)
    out = run(engine, [(0.49, mido.Message("start"))] + clock(times), until=times[-1] + 5.0)
    assert not engine.clock.following and engine.clock.tempo == pytest.approx(120.0, rel=0.005)
    after = [t for t in clicks(out) if t > times[-1] + 2.0]
    assert len(after) >= 4
    assert [b - a for a, b in zip(after, after[1:])] == pytest.approx([0.5] * (len(after) - 1), rel=0.005)


def test_a_burst_of_pulses_on_its_own_is_not_a_tempo(folk_model):
    """48 pulses in a millisecond and nothing more (a confused sender): jamd keeps its own tempo."""
    engine = make_engine(folk_model, mode="duet", tempo=100.0, metronome=True)
    out = run(engine, clock([1.0 + i * 2e-5 for i in range(2 * PPQN)]), until=8.0)
    assert not engine.clock.following and engine.clock.tempo == pytest.approx(100.0)
    after = [t for t in clicks(out) if t > 3.5]
    assert [b - a for a, b in zip(after, after[1:])] == pytest.approx([0.6] * (len(after) - 1))


@pytest.mark.parametrize("first, then", [(120.0, 180.0), (180.0, 90.0)])
def test_a_real_tempo_change_is_followed_within_a_beat(folk_model, first, then):
    times = steady(first, beats=4, jitter=0.001, seed=1)
    times += steady(then, beats=4, start=times[-1] + 60.0 / (then * PPQN), jitter=0.001, seed=2)
    engine = make_engine(folk_model, mode="duet", clock="midi", metronome=True)
    out, tempos = follow(engine, [(0.49, mido.Message("start"))] + clock(times), until=times[-1])
    assert tempos[3 * PPQN: 4 * PPQN] == pytest.approx([first] * PPQN, rel=0.01)
    assert tempos[5 * PPQN:] == pytest.approx([then] * (len(tempos) - 5 * PPQN), rel=0.01)
    assert clicks(out) == times[::PPQN]


def test_pulses_while_stopped_keep_the_tempo_and_start_begins_beat_one(folk_model):
    """Stopped, the sequencer goes on clocking at a new tempo; Start plays at it from beat 1."""
    first = steady(120.0, beats=4)
    stopped = steady(90.0, beats=4, start=first[-1] + 0.2)
    song = steady(90.0, beats=4, start=stopped[-1] + 60.0 / (90.0 * PPQN))
    engine = make_engine(folk_model, mode="duet", clock="midi", metronome=True)
    events = [(0.49, mido.Message("start"))] + clock(first) + [(first[-1] + 0.01, mido.Message("stop"))]
    events += clock(stopped) + [(song[0] - 0.005, mido.Message("start"))] + clock(song)
    out, tempos = follow(engine, events, until=song[-1])
    assert tempos[-len(song):] == pytest.approx([90.0] * len(song), rel=0.005)
    assert [t for t, _ in note_ons(out, JAMD) if first[-1] < t < song[0]] == []
    assert [t for t in clicks(out) if t >= song[0]] == song[::PPQN]


def test_continue_after_a_silent_pause_keeps_the_tempo(folk_model):
    """Stop, no pulses for three seconds, Continue: the pause is not a pulse interval."""
    first = steady(150.0, beats=4)
    later = steady(150.0, beats=4, start=first[-1] + 3.0)
    engine = make_engine(folk_model, mode="duet", clock="midi", metronome=True)
    events = [(0.49, mido.Message("start"))] + clock(first) + [(first[-1] + 0.01, mido.Message("stop")),
                                                               (later[0] - 0.001, mido.Message("continue"))]
    out, tempos = follow(engine, events + clock(later), until=later[-1])
    assert tempos[PPQN:] == pytest.approx([150.0] * (len(tempos) - PPQN), rel=0.005)
    assert clicks(out) == (first + later)[::PPQN]
    assert [t for t, _ in note_ons(out, JAMD) if first[-1] + 0.01 < t < later[0]] == []


def stray(share: float, count: int, seed: int, every: float = 0.0014) -> list[float]:
    """Pulse times among a flood of other messages, one every ``every`` seconds: each a pulse
    with probability ``share`` (a stray clock, at random times)."""
    rng = random.Random(seed)
    return [1.0 + i * every for i in range(count) if rng.random() < share]


@pytest.mark.parametrize("share", [0.01, 0.02, 0.05])
def test_stray_pulses_then_start_without_clock_fall_back_to_jamds_own_tempo(folk_model, share):
    """A flood with a stray clock among it measures 20-60 bpm; falling back to that, jamd's answer
    came only after many seconds of a player's silence."""
    times = stray(share, 10_000, seed=1)
    engine = make_engine(folk_model, tempo=120.0, beats_per_bar=4, metronome=True)
    start = times[-1] + 0.01
    out = run(engine, clock(times) + [(start, mido.Message("start"))], until=start + 6.0)
    assert not engine.clock.following and engine.clock.tempo == pytest.approx(120.0)
    after = [t for t in clicks(out) if t > start + 2.5]
    assert [b - a for a, b in zip(after, after[1:])] == pytest.approx([0.5] * (len(after) - 1))


def test_a_tick_late_past_the_fallback_time_falls_back_instead_of_closing_windows_forever(folk_model):
    """The engine thread held up for two seconds (a loaded Pi) just after a pulse began a step."""
    engine = make_engine(folk_model, tempo=120.0)
    run(engine, [(0.5, mido.Message("start")), (0.51, mido.Message("clock")), (0.53, mido.Message("clock"))],
        until=0.53)
    steps = engine.stats["steps"]
    # It used to loop for ever, taking the fallback time for a window close: a thread, so the
    # old fault fails here instead of hanging the run.
    ticking = threading.Thread(target=engine.tick, args=(3.0,), daemon=True)
    ticking.start()
    ticking.join(timeout=10.0)
    assert not ticking.is_alive(), "tick(3.0) never returned"
    assert not engine.clock.following
    assert engine.stats["steps"] - steps < 30


def test_pulses_far_apart_are_no_clock_auto_keeps_its_own_grid(folk_model):
    """A pulse every 0.4 s (6 bpm): the grid would take 2.4 s a step and jamd never answer. A
    loaded sender bunches two of them now and then: still no clock."""
    engine = make_engine(folk_model, tempo=120.0, beats_per_bar=4, metronome=True)
    times = sorted([0.7 + 0.4 * i for i in range(30)] + [0.7 + 0.4 * i + 0.005 for i in (8, 15, 22)])
    out = run(engine, [(0.5, mido.Message("start"))] + clock(times), until=times[-1])
    assert not engine.clock.following
    late = [t for t in clicks(out) if t > 4.0]
    assert [b - a for a, b in zip(late, late[1:])] == pytest.approx([0.5] * (len(late) - 1))


def test_a_player_after_stop_and_silence_gets_the_internal_grid_and_an_answer(folk_model):
    times = steady(120.0, beats=4)
    stop = times[-1] + 0.01
    engine = make_engine(folk_model, tempo=100.0, beats_per_bar=4)
    phrase = [(stop + 3.0 + 0.5 * i, mido.Message("note_on", note=60 + i, velocity=90)) for i in range(8)]
    phrase += [(t + 0.4, mido.Message("note_off", note=m.note)) for t, m in phrase]
    events = sorted([(0.49, mido.Message("start"))] + clock(times) + [(stop, mido.Message("stop"))] + phrase,
                    key=lambda e: e[0])
    out = run(engine, events, until=stop + 3.0 + 4.0 + 4.0)
    assert engine.clock.tempo == pytest.approx(120.0, rel=0.01)  # the sequencer's, measured steady
    assert note_ons(out, JAMD), "jamd never answered the player after the sequencer stopped"


def test_midi_clock_setting_stays_stopped_after_stop(folk_model):
    """clock = "midi" is told to follow: after Stop, notes wait for Start."""
    times = steady(120.0, beats=4)
    stop = times[-1] + 0.01
    engine = make_engine(folk_model, clock="midi", beats_per_bar=4)
    phrase = [(stop + 3.0 + 0.5 * i, mido.Message("note_on", note=60 + i, velocity=90)) for i in range(8)]
    phrase += [(t + 0.4, mido.Message("note_off", note=m.note)) for t, m in phrase]
    events = sorted([(0.49, mido.Message("start"))] + clock(times) + [(stop, mido.Message("stop"))] + phrase,
                    key=lambda e: e[0])
    out = run(engine, events, until=stop + 11.0)
    assert [t for t, _ in note_ons(out, JAMD) if t > stop] == []
