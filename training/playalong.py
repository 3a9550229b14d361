"""The engine played along tunes in simulated time, and what each mode's runs add up to.

The player's notes go into the engine ``jamd play`` uses (``jamd.daemon.offline.simulate``,
``jamd.daemon.engine.Engine``) with the tune's position 0 (a bar line) at 0 s, so the engine's grid
bars are the tune's bars (``beats_per_bar`` = the tune's bar in quarter notes). jamd's notes
come back as ``Note``s on the same time line and are measured with ``training/musicianship.py``
beside the real music and a baseline:

- respond: the first ``phrase_bars`` whole bars (and the pickup) are played, legato as written
  and detached (each note half as long); the answer is compared with the tune's next
  ``answer_bars`` bars;
- duet / next: the first ``2 * phrase_bars`` whole bars are played; duet's baseline is jamd's
  rhythm with random in-key pitches near jamd's, next's is the in-song bigram. next's guess after
  a player's note is jamd's first note after it, up to and with the player's next note. Duet's real
  music for the vertical figures is soprano (the player) against alto (jamd) in Bach chorales;
- chords: the whole melody; the chord jamd sounds for each quarter-note beat (``chord_wait``
  after it) against the chord track and against the key's tonic chord on every beat.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import mido
import numpy as np

from jamd.daemon.config import Config
from jamd.daemon.encoding import Note
from jamd.daemon.engine import Engine
from jamd.daemon.model import StepModel
from jamd.daemon.offline import simulate
from jamd.training import musicianship as mu
from jamd.training.tunes import Tune

TEMPO = 120.0  # simulated time: any tempo plays the same grid, this one keeps the arithmetic plain
PLAYER, JAMD = 0, 1  # MIDI channels (0-based): the player's and jamd's (Config.channel 2)
MODES = ("respond", "duet", "next", "chords")


def player_events(notes: Sequence[Note], tempo: float = TEMPO) -> list[tuple[float, mido.Message]]:
    """Note-on/off messages at their times in seconds; at equal times note-offs come first."""
    spq = 60.0 / tempo
    events = []
    for n in notes:
        events.append((n.start * spq, 1, mido.Message("note_on", channel=PLAYER, note=n.pitch, velocity=80)))
        events.append(((n.start + n.duration) * spq, 0, mido.Message("note_off", channel=PLAYER, note=n.pitch)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(when, msg) for when, _, msg in events]


def played_notes(out, channel: int = JAMD, tempo: float = TEMPO) -> list[Note]:
    """jamd's notes (quarter notes from 0 s) from the engine's timed messages on ``channel``."""
    qps = tempo / 60.0
    began: dict[int, float] = {}
    notes = []
    for when, msg in sorted(out, key=lambda m: m[0]):
        if getattr(msg, "channel", None) != channel or msg.type not in ("note_on", "note_off"):
            continue
        if msg.note in began:  # a note-off, or the same key struck again: the note ends
            start = began.pop(msg.note)
            notes.append(Note(round(start * qps * 48) / 48, round((when - start) * qps * 48) / 48, msg.note))
        if msg.type == "note_on" and msg.velocity > 0:
            began[msg.note] = when
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def play(model: StepModel, tune: Tune, notes: Sequence[Note], mode: str, seed: int, end: float,
         config: Config | None = None) -> list[Note]:
    """What jamd plays while the player plays ``notes`` of ``tune``, through ``end`` (quarter notes)."""
    # The grid starts on the tune's bar 1 (a pickup is padded): bar 1 is known, as a count-off or a
    # MIDI clock would tell it, so the phase is not inferred (bench/bar_phase.py measures that).
    config = (config or Config()).replace(model=model.name, mode=mode, tempo=TEMPO, seed=seed,
                                          beats_per_bar=int(tune.metre.bar), metronome=False, thru=False,
                                          infer_bar=False)
    engine = Engine(config, model, np.random.default_rng(seed))
    return played_notes(simulate(engine, player_events(notes), end * 60.0 / TEMPO))


def _cut(notes: Sequence[Note], begin: float, end: float) -> list[Note]:
    """The notes starting in [begin, end), each ending by ``end``."""
    return [Note(n.start, min(n.duration, end - n.start), n.pitch) for n in notes if begin - mu.EPS <= n.start < end - mu.EPS]


def detached(notes: Sequence[Note]) -> list[Note]:
    """The same notes played short: half as long, at least a 16th."""
    return [Note(n.start, min(n.duration, max(n.duration / 2, 0.25)), n.pitch) for n in notes]


class Tally(defaultdict):
    """Figure name -> ``Share``; one per side (jamd, real, baseline)."""

    def __init__(self):
        super().__init__(mu.Share)

    def count(self, name: str, share: mu.Share) -> None:
        self[name].hits += share.hits
        self[name].total += share.total

    def line(self, notes: Sequence[Note], key: str, beat: float) -> None:
        """The figures every melodic line gets: in key, interval bands, onsets on beats."""
        line = mu.melody(notes)
        self.count("in_key", mu.in_key([n.pitch for n in line], key))
        bands = mu.interval_profile(mu.intervals([n.pitch for n in line]))
        for name, _, _ in mu.BANDS:
            self.count(f"interval_{name}", mu.Share(bands[name], sum(bands.values())))
        for n in line:
            self["onsets_on_beats"].add(mu.on_beat(n.start, beat))


def _respond(model, tunes, seeds, phrase_bars, config) -> dict[str, Tally]:
    sides = {"jamd": Tally(), "real": Tally()}
    answer_bars, wait = config.answer_bars, config.answer_after_bars
    for tune in tunes:
        bar, beat = tune.metre.bar, tune.metre.beat
        phrase_end = tune.first_bar + phrase_bars * bar
        phrase = _cut(tune.notes, 0.0, phrase_end)
        real = _cut(tune.notes, phrase_end, phrase_end + answer_bars * bar)
        end = phrase_end + (wait + answer_bars + 1) * bar
        _answer(sides["real"], real, tune, "legato", own=False)
        for seed in seeds:
            for touch, notes in (("legato", phrase), ("detached", detached(phrase))):
                heard = play(model, tune, notes, "respond", seed, end, config)
                _answer(sides["jamd"], [n for n in heard if n.start > notes[-1].start], tune, touch)
    return sides


def _answer(tally: Tally, answer: list[Note], tune: Tune, touch: str, own: bool = True) -> None:
    """respond figures of one answer; ``own=False``: the real continuation, which always comes."""
    if own:
        tally[f"answered_{touch}"].add(bool(answer))
    if not answer:
        return
    tally[f"starts_on_beat_{touch}"].add(mu.on_beat(answer[0].start, tune.metre.beat))
    if touch == "legato":
        tally.line(answer, tune.key, tune.metre.beat)
        tally["ends_on_tonic_triad"].add(mu.melody(answer)[-1].pitch % 12 in mu.tonic_triad(tune.key))


def _together(model, tunes, seeds, phrase_bars, mode, config, chorales=()) -> dict[str, Tally]:
    """duet and next: the player plays the opening and jamd plays along.

    ``chorales``: (soprano tune, alto notes) pairs whose vertical figures are duet's real music.
    """
    sides = {"jamd": Tally(), "baseline": Tally(), "real": Tally()}
    for soprano, alto in chorales if mode == "duet" else ():
        _duet(sides["real"], alto, list(soprano.notes), soprano, vertical_only=True)
    for tune in tunes:
        span = tune.first_bar + 2 * phrase_bars * tune.metre.bar
        notes = _cut(tune.notes, 0.0, span)
        line = mu.melody(notes)
        if mode == "next":
            guesses = mu.bigram_guesses([n.pitch for n in line])
            for n, guess, nxt in zip(line, guesses, line[1:]):
                sides["baseline"]["next_correct"].add(guess == nxt.pitch)
        else:
            sides["real"].line(notes, tune.key, tune.metre.beat)
        for seed in seeds:
            heard = [n for n in play(model, tune, notes, mode, seed, span + tune.metre.bar, config) if n.start < span]
            if mode == "next":
                _guesses(sides["jamd"], heard, line, tune)
            else:
                _duet(sides["jamd"], heard, notes, tune)
                _duet(sides["baseline"], _random_in_key(heard, tune.key, seed), notes, tune, vertical_only=True)
    return sides


def _guesses(tally: Tally, heard: list[Note], line: list[Note], tune: Tune) -> None:
    """next mode: jamd's guess after each player onset is its first note after that onset, up to
    and with the player's next onset (a guess may sound when jamd expects the next note)."""
    mine = mu.melody(heard)
    for n, nxt in zip(line, line[1:]):
        guess = next((g for g in mine if n.start + mu.EPS < g.start <= nxt.start + mu.EPS), None)
        tally["next_correct"].add(guess is not None and guess.pitch == nxt.pitch)
        tally["next_guessed"].add(guess is not None)
    for guess in mu.melody(heard):
        held = [n.pitch for n in line if n.start < guess.start - mu.EPS < n.start + n.duration - 2 * mu.EPS]
        tally["over_held_note"].add(bool(held))
        tally["dissonant_with_held"].add(any(mu.dissonant(guess.pitch, p) for p in held))
    tally.line(heard, tune.key, tune.metre.beat)


def _duet(tally: Tally, heard: list[Note], notes: list[Note], tune: Tune, vertical_only: bool = False) -> None:
    """duet figures of jamd's ``heard`` notes against the player's ``notes``; from the player's first note on."""
    first = notes[0].start
    if not vertical_only:
        tally["plays_before_player"].add(any(n.start < first - mu.EPS for n in heard))
    heard = [n for n in heard if n.start >= first - mu.EPS]
    for n in mu.melody(heard):
        pair = mu.vertical([n.pitch], mu.sounding(notes, n.start))
        if pair:
            tally["dissonant_at_onsets"].add(pair[0])
            tally["shadowing"].add(pair[1])
    for beat in mu.beats(first, max(n.start + n.duration for n in notes), tune.metre.beat):
        pair = mu.vertical(mu.sounding(heard, beat), mu.sounding(notes, beat))
        if pair:
            tally["dissonant_on_beats"].add(pair[0])
    if not vertical_only:
        tally.line(heard, tune.key, tune.metre.beat)


def _random_in_key(heard: list[Note], key: str, seed: int) -> list[Note]:
    """jamd's rhythm and register, each pitch drawn from the key's scale within a tritone of jamd's."""
    rng, pcs = np.random.default_rng(seed), mu.scale(key)
    return [Note(n.start, n.duration, int(rng.choice([p for p in range(n.pitch - 6, n.pitch + 6) if p % 12 in pcs])))
            for n in heard]


def _chords(model, tunes, seeds, config) -> dict[str, Tally]:
    from jamd.daemon.chords import identify, symbol

    sides = {"jamd": Tally(), "real": Tally(), "baseline": Tally()}
    for tune in tunes:
        tonic, mode = mu.key_tonic(tune.key)
        beats = len(tune.chords)
        _progression(sides["real"], tune.chords, tune, against_track=False)
        _progression(sides["baseline"], [symbol(tonic, "m" if mode == "minor" else "")] * beats, tune)
        # jamd sounds a beat's chord chord_wait after it: quarter notes, up to played_notes' 1/48 grid
        lag = math.ceil(config.chord_wait * TEMPO / 60.0 * 48) / 48
        for seed in seeds:
            heard = play(model, tune, tune.notes, "chords", seed, beats + tune.metre.bar, config)
            _progression(sides["jamd"], [identify(mu.sounding(heard, b + lag)) for b in range(beats)], tune)
    return sides


def _progression(tally: Tally, chords: Sequence[str], tune: Tune, against_track: bool = True) -> None:
    """Chord figures of one tune's chord on each quarter-note beat, beat 0 a bar line."""
    changes = mu.chord_changes(chords)
    tally.count("changes_per_bar", mu.Share(len(changes), len(chords) / tune.metre.bar))  # an average, not a share
    for at in changes:
        tally["changes_on_bar_lines"].add(mu.on_beat(at, tune.metre.bar))
    if against_track:
        tally.count("chord_agreement", mu.agreement(chords, tune.chords))
    distinct = mu.distinct_chords(chords)
    tally.count("distinct_chords", mu.Share(distinct, 1))
    tally["two_chords_or_fewer"].add(distinct <= 2)


def measure(model: StepModel, tunes: Sequence[Tune], mode: str, seeds: Sequence[int], phrase_bars: int = 4,
            config: Config | None = None, chorales: Sequence[tuple[Tune, list[Note]]] = ()) -> dict[str, Tally]:
    """Figure name -> ``Share`` for each side (jamd, real, baseline) of ``mode`` on ``tunes``.

    ``chorales``: duet's real music for the vertical figures (``jamd.training.tunes.chorales``).
    """
    config = config or Config()
    if mode == "respond":
        return _respond(model, tunes, seeds, phrase_bars, config)
    if mode == "chords":
        return _chords(model, tunes, seeds, config)
    return _together(model, tunes, seeds, phrase_bars, mode, config, chorales)


