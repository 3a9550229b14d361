"""The four modes as behaviours: what a step feeds the model, what jamd plays, what a player's note stops.

The engine (``daemon/engine.py``) is the hub: it keeps time, takes the player's notes, feeds the
model one token a grid step and sends what the mode's behaviour decides. Every step k it asks:

- ``heard(k, player)``: the token step k feeds the model, the player's (``player``) or jamd's own;
- ``decide(step, hub)``: what jamd sounds from grid step ``step`` (= k + 1) on: a tuple of MIDI
  pitches (what sounded ends), ``RELEASE`` (jamd's notes end) or ``None`` (nothing changes).

``stops_on_note``: a player's note-on ends jamd's notes at once while ``active`` (respond's
barge-in; read on the input path, so plain attributes). ``stop()``: the hub ended jamd's notes,
forget the plans. ``idle_resets``: a long silence may start the model afresh. ``listening``: a
step whose onsets the behaviour wants to hear (``hear``) a moment after it begins, before the
step's window closes (chords waits for the note struck on the beat).

What a behaviour gets from the hub (tests give a small fake with fixed probabilities):
``clock``, ``config``, ``stats``, ``player`` (``Player``), ``palette`` (``jamd.daemon.harmony.Palette``),
``outputs`` (what the probabilities score), ``probabilities()`` (the LSTM blended with the
short-term model), ``draw(probs)`` (temperature, top-k, the seeded generator) and
``look_ahead(steps)`` (probabilities ``steps`` steps on if nothing new starts, from a copy of the
model's state) and ``next_notes()`` (the player's next note by MIDI pitch, from the notes they
played before: the short-term model's note level). Chords mode is in ``daemon/accompany.py``.
"""

from __future__ import annotations

import math

import numpy as np

from jamd.daemon import harmony
from jamd.daemon.blend import blend
from jamd.daemon.encoding import HOLD_ID, REST_ID

RELEASE: tuple[int, ...] = ()
KEY_NOTES = 4  # duet: the player's notes heard before jamd joins in (it has heard the key)
KEY_MEMORY = 0.97  # weight left to a pitch class heard one note ago: the key heard follows a modulation
OUT_OF_KEY = 0.1  # weight of a pitch class the player has not played (the key heard: any mode or scale)
LEAP = 0.5  # respond: weight of a pitch more than a fifth from the one jamd (or the player) just played (bench/intervals.py)
REPEAT = 0.6  # respond: weight of the pitch jamd (or the player) just played, so answers move (bench/intervals.py)
VOICE_BELOW = 7  # duet: semitones from the player's running mean down to the top of jamd's register
# duet: weights of a repeat, a skip (3-4 semitones) and a leap (5-6) from jamd's last note, a step
# weighing 1; each note sounds in the octave nearest the last, so no interval is larger (bench/intervals.py)
LINE = (0.1, 0.1, 0.05)
CONSONANCE = 8.0  # duet: exponent on the consonance with the player's expected note (0 = ignore it)
DUE = 0.25  # next: a clashing guess sounds on the step by which the next onset is this likely (bench/next_due.py)
LOOK_BEATS = 2  # next: how far ahead (beats) the next onset is looked for
# next: weight of the note-level short-term model in the guess, per unit of stm_strength (1 at the
# default 0.25; bench/next_due.py --setting NOTES)
NOTES = 4.0
# next: the note memory's weight is also scaled by how much better than the model it guessed the
# player's last notes (the ratio of their probabilities of each actual note, this share of it kept
# a note later; None = off), so a tune the model knows little leans on its own repeats, one it
# knows on the model (bench/next_due.py --setting EVIDENCE)
EVIDENCE: float | None = 0.5
EVIDENCE_CAP = 4.0  # the evidence scales that weight by at most e**4 either way


class Player:
    """What the hub heard from the player, brought up to date once a grid step by ``hear``."""

    def __init__(self) -> None:
        self.onset = False  # the player started a note in the step just closed
        self.pitch: int | None = None  # the highest pitch of their last onset
        self.low: int | None = None  # its lowest
        self.held: tuple[int, ...] = ()  # pitches of their keys down
        self.silent_steps = 0  # steps in a row with no key down and no onset
        self.steps_since_onset = 0
        self.notes = 0  # onsets since the model was last reset
        self.counts = np.zeros(12)  # pitch classes heard, recent ones weighing more (``KEY_MEMORY``)
        self.register = 60.0  # running mean of their pitches (MIDI)
        self._key_weights = np.ones(12)

    def hear(self, token: int, onsets: set[int], held: set[tuple[int, int]]) -> None:
        self.onset = bool(onsets)
        self.held = tuple(sorted(n for _, n in held)) if held else ()
        self.silent_steps = self.silent_steps + 1 if token == REST_ID else 0
        self.steps_since_onset = 0 if self.onset else self.steps_since_onset + 1
        if self.onset:
            self.pitch, self.low = max(onsets), min(onsets)
            self.counts *= KEY_MEMORY
            for pitch in onsets:
                self.counts[pitch % 12] += 1.0
            self.register += (0.2 if self.notes else 1.0) * (self.pitch - self.register)
            self.notes += 1
            self._key_weights = np.where(self.counts > 0, 1.0, OUT_OF_KEY)

    def forget(self) -> None:
        """A new phrase from a fresh model state: the key is heard again."""
        self.notes, self.silent_steps = 0, 0
        self.counts[:] = 0.0
        self._key_weights = np.ones(12)

    def key_weights(self) -> np.ndarray:
        """Per pitch class: 1 if the player has played it since the reset, else ``OUT_OF_KEY``
        (all 1 before their first note)."""
        return self._key_weights


def steer(probs: np.ndarray, palette: harmony.Palette, weights: np.ndarray) -> np.ndarray:
    """``probs`` with pitches reweighted by class (12 ``weights``), their total mass kept: the model
    still decides whether a note starts, the weights only which one."""
    mass = probs[palette.is_pitch].sum()
    out = palette.weigh(probs, weights)
    new = out[palette.is_pitch].sum()
    if new > 0:
        out[palette.is_pitch] *= mass / new
    return out


def line_weights(repeat: float, skip: float, leap: float) -> np.ndarray:
    """12 weights by the interval class (0-11 semitones, mod 12) from the last note: a repeat, a
    step (1-2 either way) 1, a skip (3-4), a leap (5-7: a fourth, a tritone or a fifth)."""
    return np.array([repeat, 1, 1, skip, skip, leap, leap, leap, skip, skip, 1, 1], float)


def pitches_only(probs: np.ndarray) -> np.ndarray:
    probs = probs.copy()
    probs[[REST_ID, HOLD_ID]] = 0.0
    return probs


class Behaviour:
    """The interface; this base plays nothing and feeds the player's tokens."""

    stops_on_note = False
    active = False
    idle_resets = True
    listening: int | None = None  # a step whose onsets it wants to hear before the window closes

    def heard(self, k: int, player: int) -> int:
        return player

    def decide(self, step: int, hub) -> tuple[int, ...] | None:
        return None

    def hear(self, struck, hub) -> tuple[int, ...] | None:
        """The ``listening`` step is open and the player has started ``struck`` (pitches) in it so far."""
        return None

    def stop(self) -> None:
        pass


class Respond(Behaviour):
    """After the player's phrase and a pause, an answer that comes in on a beat, about as long as
    the phrase (``answer_bars`` at most), moving rather than repeating, in the key heard, and
    ending on a long note of the heard key's tonic triad; a player's note stops it."""

    stops_on_note = True

    def __init__(self) -> None:
        self.active = False  # answering (the barge-in reads this on the input path)
        self.armed = False  # the player played since jamd's last answer
        self.phrase_from = 0  # step of the phrase's first note
        self.plan: tuple[int, int] | None = None  # (step, token) jamd plays on that step
        self.start = self.end = self.cadence = 0  # the answer's first step, last + 1, and its final note's
        self.last: int | None = None  # the pitch jamd played last

    @property
    def idle_resets(self) -> bool:  # not while an answer is owed: answer_after_bars may be long
        return not self.armed

    def heard(self, k: int, player: int) -> int:
        return self.plan[1] if self.plan is not None and self.plan[0] == k else player

    def stop(self) -> None:
        self.active, self.plan = False, None

    def decide(self, step: int, hub) -> tuple[int, ...] | None:
        player, clock, config = hub.player, hub.clock, hub.config
        if player.onset and not self.armed:
            self.armed, self.phrase_from = True, step - 1
        self.plan = None
        if self.active:
            if step >= self.end:
                self.active = False
                return RELEASE
            return self._next(step, hub)
        bar = clock.steps_per_beat * config.beats_per_bar
        if self.armed and player.silent_steps >= round(config.answer_after_bars * bar) and clock.is_beat(step):
            self._begin(step, hub, bar)
            return self._next(step, hub)
        return None

    def _begin(self, step: int, hub, bar: int) -> None:
        """Plan the answer from ``step``: as many bars as the phrase had, within ``answer_bars``."""
        config, beat = hub.config, hub.clock.steps_per_beat
        heard = step - hub.player.silent_steps - self.phrase_from
        bars = config.answer_bars if config.answer_bars < 1 else min(config.answer_bars, max(1, round(heard / bar)))
        length = max(1, round(bars * bar))
        self.armed, self.active, self.start, self.end = False, True, step, step + length
        self.last = hub.player.pitch
        # The final note: half a bar before the end in a long answer, a beat before in a short one.
        final = beat * max(1, config.beats_per_bar // 2) if length >= bar else beat
        self.cadence = max(step, self.end - final)
        hub.stats["answers"] += 1

    def _next(self, step: int, hub) -> tuple[int, ...] | None:
        palette = hub.palette
        if step > self.cadence:
            self.plan = (step, HOLD_ID)  # the final note rings to the end of the answer
            return None
        probs = steer(hub.probabilities(), palette, hub.player.key_weights())
        if self.last is not None:
            probs[palette.top == self.last] *= REPEAT
            probs[np.abs(palette.top - self.last) > 7] *= LEAP
        if step == self.start:
            probs = pitches_only(probs)  # an answer begins with a note
        if step == self.cadence:
            tonic, minor = hub.key()
            triad = np.full(12, 1e-3)
            triad[list(harmony.tonic_triad(tonic, minor))] = 1.0
            probs = palette.weigh(pitches_only(probs), triad)
        token = hub.draw(probs)
        self.plan = (step, token)
        if token == HOLD_ID:
            return None
        if palette.is_pitch[token]:
            self.last = int(palette.top[token])
        return palette.pitches[token]


class Duet(Behaviour):
    """A second voice from the player's fourth note on: in a register of its own (the 15 semitones
    from a fifth under the player's running mean down), its notes weighted towards 3rds, 6ths and 5ths with the note the player is
    expected to sound while they play (the one held, or the model's guess at their next), in the key heard."""

    idle_resets = False

    def __init__(self) -> None:
        self.plan: tuple[int, int] | None = None
        self.last: int | None = None  # the pitch jamd sounded last (its top note)
        line = line_weights(*LINE)
        self.line = np.stack([np.roll(line, pc) for pc in range(12)])  # [last pitch class][pitch class]

    def heard(self, k: int, player: int) -> int:
        # The model hears one melody: the player's onset wins the step, otherwise jamd's own line.
        if self.plan is not None and self.plan[0] == k and player in (REST_ID, HOLD_ID):
            return self.plan[1]
        return player

    def stop(self) -> None:
        self.plan = None

    def decide(self, step: int, hub) -> tuple[int, ...] | None:
        player, palette = hub.player, hub.palette
        self.plan = None
        if player.notes < KEY_NOTES:
            return None
        probs = hub.probabilities()
        weights = player.key_weights()
        if player.held or player.steps_since_onset < hub.clock.steps_per_beat:  # the player is playing
            expected = palette.pitch_classes(probs)
            if player.held:
                onset = probs[palette.is_pitch].sum()  # the chance the player strikes a new note now
                held = np.bincount([p % 12 for p in player.held], minlength=12) / len(player.held)
                expected = onset * expected + (1.0 - onset) * held
            weights = harmony.consonance(expected) ** CONSONANCE * weights
        if self.last is not None:  # a line: it moves by step more often than it skips or leaps
            weights = weights * self.line[self.last % 12]
        token = hub.draw(steer(probs, palette, weights))
        self.plan = (step, token)
        if token == HOLD_ID:
            return None
        # Under the player's register, each note in the octave nearest jamd's last: a line, not leaps.
        high = round(player.register) - VOICE_BELOW
        placed = tuple(sorted({nearest(p, self.last or high - 6, high - 15, high) for p in palette.pitches[token]}))
        if placed:
            self.last = placed[-1]
        return placed


class Next(Behaviour):
    """After each note the player starts, jamd's guess at their next note (the model's, blended with
    the note that followed the same notes earlier in the session, each trusted as far as it guessed
    the player's last notes), sounded on the step the next onset is likely due (``DUE``, looked up
    to ``LOOK_BEATS`` ahead) if it would clash with the note the player holds, at once if it would
    not; held at most a beat."""

    def __init__(self) -> None:
        self.due: int | None = None  # the step the guess is to sound on
        self.guess = REST_ID  # the guess, a token
        self.began: int | None = None  # step of the guess sounding
        self.evidence = 0.0  # log of how much better the note memory guessed the player's notes
        self._guessed: tuple[np.ndarray, np.ndarray] | None = None  # (model, memory), by token

    def stop(self) -> None:
        self.due = self.began = None

    def _weigh_evidence(self, pitch: int, palette) -> None:
        """The player played ``pitch``: which of the last guess's two halves saw it coming."""
        if self._guessed is None or EVIDENCE is None:
            return
        model, memory = self._guessed
        hit = palette.top == pitch
        # + 1e-3: a note neither saw coming (a new phrase, a slip) says little about either
        ratio = (float(memory[hit].sum()) + 1e-3) / (float(model[hit].sum()) + 1e-3)
        self.evidence = min(max(EVIDENCE * self.evidence + math.log(ratio), -EVIDENCE_CAP), EVIDENCE_CAP)

    def decide(self, step: int, hub) -> tuple[int, ...] | None:
        player, palette, beat = hub.player, hub.palette, hub.clock.steps_per_beat
        if player.onset:
            self._weigh_evidence(player.pitch, palette)
            due, self.guess = self._guess(step, hub)
            # A guess that clashes with the note held waits until that note is likely over; one
            # that does not may sound at once.
            clash = any(harmony.dissonant(p, h) for p in palette.pitches[self.guess] for h in player.held)
            self.due = due if clash else step
        if self.due is not None and step >= self.due:
            self.due, self.began = None, step
            return palette.pitches[self.guess]
        if self.began is not None and step - self.began >= beat:
            self.began = None
            return RELEASE
        return None

    def _guess(self, step: int, hub) -> tuple[int, int]:
        """(step, token): the likeliest next pitch, summed over when it may come, and when it is due."""
        palette = hub.palette
        ahead = hub.look_ahead(LOOK_BEATS * hub.clock.steps_per_beat)
        total = np.zeros(len(ahead[0]))
        waiting, due, likeliest = 1.0, None, (0.0, step)  # waiting: the chance no note has started yet
        for j, probs in enumerate(ahead):
            onset = probs[palette.is_pitch].sum()
            total += waiting * pitches_only(probs)
            if due is None and 1.0 - waiting * (1.0 - onset) >= DUE:
                due = step + j
            likeliest = max(likeliest, (waiting * onset, step + j))
            waiting *= 1.0 - onset
        total[~palette.is_pitch] = 0.0
        strength = NOTES * hub.config.stm_strength
        if strength > 0.0:  # which note followed these ones before, however each was timed
            recalled = hub.next_notes()[palette.top]
            recalled[~palette.is_pitch] = 0.0
            if EVIDENCE is not None:
                if self._guessed is None:
                    self._guessed = (np.empty_like(total), np.empty_like(recalled))
                np.divide(total, total.sum(), out=self._guessed[0])
                np.divide(recalled, recalled.sum(), out=self._guessed[1])
            total = blend(total, recalled, strength * math.exp(self.evidence))
        return (likeliest[1] if due is None else due), int(np.argmax(total))


def fold(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by whole octaves into ``low``..``high`` (MIDI notes, high - low >= 11)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def nearest(pitch: int, near: int, low: int, high: int) -> int:
    """``pitch`` moved by whole octaves into ``low``..``high`` (high - low >= 11), nearest to ``near``."""
    pitch = fold(pitch, low, high)
    return min((p for p in (pitch - 12, pitch, pitch + 12) if low <= p <= high), key=lambda p: abs(p - near))


def behaviour(mode: str, polyphonic: bool = False, **kwargs) -> Behaviour:
    """The behaviour of ``mode`` (respond, duet, next, chords; for a poly model respond, duet, harmonize)."""
    if polyphonic:
        from jamd.daemon.poly_play import poly_behaviour

        return poly_behaviour(mode)
    if mode == "chords":
        from jamd.daemon.accompany import Chords

        return Chords(**kwargs)
    return {"respond": Respond, "duet": Duet, "next": Next}[mode]()
