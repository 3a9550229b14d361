"""Playing a polyphonic model (issue 14): the texture it hears, and the next step it imagines.

A poly model (``daemon/poly_encoding.py``) hears the whole texture, the player's notes and jamd's
together, as they begin and end: each grid step it is fed the step's ``off:P`` and ``on:P``
tokens (high to low) and its ``step`` token (``Engine._feed_texture``). To play, jamd imagines the step
to come on a copy of the model's state, token by token until it draws ``step``, under the
encoding's grammar (``imagine``), and plays its own part of what it imagined: the behaviours
below say which part. At the step's close the model is fed what was really played, so the
imagined tokens never reach its state unless they happened.

The behaviours (the interface of ``daemon/modes.py``, ``decide`` returning a ``Move``):

- ``PolyRespond``: after the player's phrase and a pause, an answer on a beat, chords and lines
  with their own lengths, about as long as the phrase; a player's note stops it.
- ``PolyDuet``: from the player's fourth note on, the parts under the player's lowest note.
- ``Harmonize``: the player plays the top voice; a moment after each note they strike, the model
  is given it first and writes the voices below it (chorale style); they end when the player stops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.daemon import harmony
from jamd.daemon.model import sample
from jamd.daemon.poly_encoding import OFF, ON, PIANO_HIGH, PIANO_LOW, STEP

MAX_TOKENS = 16  # tokens one imagined step may hold before it is cut (ten fingers and a pedal)
KEY_NOTES = 4  # duet: the player's notes heard before jamd joins in
CLASH = 0.15  # duet/harmonize: weight of a note dissonant with one the player sounds
SILENT_BEATS = 1  # harmonize: the player silent this long, the voices end
VOICES = 3  # harmonize: alto, tenor and bass under the player's melody
PARALLEL = 0.05  # harmonize: weight of a voice moving in parallel fifths or octaves with the melody
CANDIDATES = 4  # harmonize: voicings drawn for each melody note, the likeliest played (chosen on training chorales)


@dataclass(frozen=True)
class Move:
    """What jamd does on a step: its notes that end (``offs``) and the notes it strikes (``ons``)."""

    offs: tuple[int, ...] = ()
    ons: tuple[int, ...] = ()


class PolyTokens:
    """Id tables of a ``PolyVocabulary``, made once per model."""

    def __init__(self, vocab) -> None:
        size = len(vocab)
        self.step = vocab.id(STEP)
        self.on = np.full(128, -1)
        self.off = np.full(128, -1)
        self.pitch = np.full(size, -1)
        self.is_on = np.zeros(size, bool)
        self.is_off = np.zeros(size, bool)
        for i, token in enumerate(vocab.tokens):
            for prefix, table, mask in ((ON, self.on, self.is_on), (OFF, self.off, self.is_off)):
                if token.startswith(prefix):
                    pitch = int(token[len(prefix):])
                    table[pitch], self.pitch[i], mask[i] = i, pitch, True

    def ids(self, offs, ons) -> list[int]:
        """The step's tokens as the encoding orders them: offs high to low, ons high to low, ``step``."""
        return ([int(self.off[p]) for p in sorted(offs, reverse=True) if self.off[p] >= 0]
                + [int(self.on[p]) for p in sorted(ons, reverse=True) if self.on[p] >= 0] + [self.step])


def imagine(hub, sounding: set[int], position: tuple[int, int], *, forced_offs=(), forced_on: int | None = None,
            on_below: int = PIANO_HIGH + 1, weights=None, must_strike: bool = False,
            parts: tuple[set[int], int] | None = None, logp: list | None = None) -> tuple[list[int], list[int]]:
    """(offs, ons) of the step the model expects next, drawn on a copy of its state (left as it was).

    ``sounding``: the pitches the model has heard sounding. ``forced_offs`` (the player's, above
    every other) and ``forced_on`` (the player's top note) are given, not drawn: what the model
    writes after them is conditioned on them. ``on_below``: drawn onsets stay under this pitch.
    ``weights``: 128 per-pitch weights on drawn onsets (1 = as the model says), or a function of
    the onsets drawn so far that gives them. ``must_strike``: the step does not end before a note
    is struck. ``position``: the step's bar position.
    ``parts``: (jamd's sounding pitches, how many): the step ends with exactly that many of jamd's
    notes sounding under ``forced_on`` (harmonize's alto, tenor and bass), the model choosing
    which to end, which to hold and which to strike. ``logp``: a list the log-probability of the
    drawn tokens (the model's, times ``weights``; the given ones left out) is appended to.
    """
    model, tokens = hub.model, hub.poly_tokens
    state, steps = model.get_state(), model.steps
    offs: list[int] = []
    ons: list[int] = []
    left = set(sounding)
    score = 0.0

    def feed(token: int) -> None:
        model.feed(token, *position)
        pitch = int(tokens.pitch[token])
        (offs if tokens.is_off[token] else ons).append(pitch)
        left.discard(pitch)

    for pitch in sorted(forced_offs, reverse=True):
        if pitch in left:
            feed(int(tokens.off[pitch]))
    while len(offs) + len(ons) < MAX_TOKENS:
        probs = model.probabilities()
        ceiling = min(offs) if offs else PIANO_HIGH + 1
        may_end = [int(tokens.off[p]) for p in left if p < ceiling] if not ons else []
        if forced_on is not None:
            # Offs until the model would go on: then the player's note (it takes all the rest of the
            # probability), and the voices under it.
            player_on = int(tokens.on[forced_on])
            choice = np.zeros(len(probs))
            choice[may_end] = probs[may_end]
            choice[player_on] = max(1e-12, 1.0 - choice.sum())
            token = sample(choice, hub.config.temperature, hub.config.top_k, hub.rng)
            score += np.log(max(choice[token], 1e-12))
            feed(token)
            if token == player_on:
                on_below, forced_on = forced_on, None
            continue
        limit = min([on_below] + ons)
        mask = tokens.is_on & (tokens.pitch < limit)
        for pitch in left:
            mask[tokens.on[pitch]] = False
        mask[may_end] = True
        mask[tokens.step] = not (must_strike and not ons)
        if parts is not None:
            voices = len((parts[0] - set(offs)) | {p for p in ons if p < on_below}) if ons else None
            if voices is not None:
                mask[tokens.step] = voices >= parts[1]
                if voices >= parts[1]:
                    mask[tokens.is_on] = False
        probs = np.where(mask, probs, 0.0)
        if weights is not None:
            table = weights(ons) if callable(weights) else weights
            probs[tokens.is_on] *= table[tokens.pitch[tokens.is_on]]
        if probs.sum() <= 0:
            break
        token = sample(probs, hub.config.temperature, hub.config.top_k, hub.rng)
        score += np.log(max(probs[token], 1e-12))  # the model's, times the weights' preference
        if token == tokens.step:
            break
        feed(token)
    model.set_state(state)
    model.steps = steps
    if logp is not None:
        logp.append(float(score))
    return offs, ons


class PolyBehaviour:
    """The interface of ``daemon/modes.Behaviour`` for poly models: ``decide`` returns a ``Move``."""

    stops_on_note = False
    active = False
    idle_resets = True
    listening: int | None = None

    def __init__(self) -> None:
        self.mine: set[int] = set()  # the pitches jamd has sounding (its moves, as scheduled)

    def heard(self, k: int, player: int) -> int:
        return player

    def decide(self, step: int, hub) -> Move | None:
        return None

    def hear(self, struck, hub) -> Move | None:
        return None

    def stop(self) -> None:
        self.mine.clear()

    def played(self, move: Move) -> Move:
        """Keep ``move``'s notes in ``mine`` (what the hub schedules) and return it."""
        self.mine -= set(move.offs)
        self.mine |= set(move.ons)
        return move

    def release(self) -> Move | None:
        """Every note jamd has sounding ends."""
        if not self.mine:
            return None
        return self.played(Move(offs=tuple(sorted(self.mine))))


class PolyRespond(PolyBehaviour):
    stops_on_note = True

    def __init__(self) -> None:
        super().__init__()
        self.active = False
        self.armed = False
        self.phrase_from = 0
        self.start = self.end = 0

    @property
    def idle_resets(self) -> bool:
        return not self.armed

    def stop(self) -> None:
        super().stop()
        self.active = False

    def decide(self, step: int, hub) -> Move | None:
        player, clock, config = hub.player, hub.clock, hub.config
        if player.onset and not self.armed:
            self.armed, self.phrase_from = True, step - 1
        bar = clock.steps_per_beat * config.beats_per_bar
        if self.active:
            if step >= self.end:
                self.active = False
                return self.release()
            return self._next(step, hub)
        if self.armed and player.silent_steps >= round(config.answer_after_bars * bar) and clock.is_beat(step):
            heard = step - player.silent_steps - self.phrase_from
            bars = config.answer_bars if config.answer_bars < 1 else \
                min(config.answer_bars, max(1, round(heard / bar)))
            self.armed, self.active = False, True
            self.start, self.end = step, step + max(1, round(bars * bar))
            hub.stats["answers"] += 1
            return self._next(step, hub)
        return None

    def _next(self, step: int, hub) -> Move | None:
        offs, ons = imagine(hub, hub.texture, hub.position(step), must_strike=step == self.start,
                            weights=hub.key_weights())
        move = Move(tuple(p for p in offs if p in self.mine), tuple(ons))
        return self.played(move) if move.offs or move.ons else None


class PolyDuet(PolyBehaviour):
    idle_resets = False

    def decide(self, step: int, hub) -> Move | None:
        player = hub.player
        if player.notes < KEY_NOTES:
            return None
        # The parts under the player: below the lowest note they sound or last struck.
        theirs = [p for p in player.held] + ([player.low] if player.low is not None else [])
        below = min(theirs) if theirs else PIANO_HIGH + 1
        offs, ons = imagine(hub, hub.texture, hub.position(step), on_below=below,
                            weights=hub.clash_weights(player.held))
        move = Move(tuple(p for p in offs if p in self.mine), tuple(ons))
        return self.played(move) if move.offs or move.ons else None


class Harmonize(PolyBehaviour):
    """Voices under the player's melody, written a moment after each note they strike."""

    idle_resets = False

    def __init__(self) -> None:
        super().__init__()
        self.listening = 0
        self.melody: int | None = None  # the player's top note the voices were written under
        self.voiced = -(1 << 30)  # the step the chord was last written afresh

    def decide(self, step: int, hub) -> Move | None:
        self.listening = step  # hear the player's note struck on every step
        if hub.player.silent_steps >= SILENT_BEATS * hub.clock.steps_per_beat:
            self.melody = None
            return self.release()
        return None

    def hear(self, struck, hub) -> Move | None:
        if not struck:
            return None  # still listening: a note struck later in the step is heard as it comes
        self.listening = None  # once a step: the melody's note, the voices under it
        top = max(struck)
        step = hub.clock.step
        # The player's notes that ended (their melody moves: its last note ends as the new one starts).
        forced = [p for p in hub.texture - self.mine if p not in hub.player_keys() or p == self.melody]
        # On a beat, or a beat after the last chord, the chord is written afresh under the new melody
        # note (the model hears the voices end first, as the encoding orders a step); in between,
        # voices end only where the model ends them.
        afresh = hub.clock.is_beat(step) or step - self.voiced >= hub.clock.steps_per_beat
        forced += [p for p in self.mine if p >= top or afresh]
        clash = clash_weights([top]) * hub.scale_weights()  # the key's scale: the melody alone lacks chord tones
        before, old = self.melody, sorted(self.mine)

        def weights(ons):  # consonant with the melody, no parallels with it or with the voices written
            lines = [(before, top)] + [(_nearest(old, q), q) for q in ons if q != top]
            return clash * parallel_weights(lines, old)

        # The likeliest of a few drawn voicings: chorale style is the common chord, well led.
        drawn = []
        for _ in range(CANDIDATES):
            score: list[float] = []
            found = imagine(hub, hub.texture, hub.position(step), forced_offs=forced, forced_on=top,
                            weights=weights, parts=(self.mine, VOICES), logp=score)
            drawn.append((score[0], found))
        offs, ons = max(drawn, key=lambda d: d[0])[1]
        self.melody = top
        if afresh:
            self.voiced = step
        voices = [p for p in ons if p < top]
        # A voice that keeps its pitch is held, not struck again (the model heard it end and begin).
        kept = set(voices) & set(offs) & self.mine
        move = Move(tuple(p for p in offs if p in self.mine and p not in kept),
                    tuple(p for p in voices if p not in kept))
        return self.played(move) if move.offs or move.ons else None


def _nearest(pitches, pitch: int) -> int | None:
    return min(pitches, key=lambda p: abs(p - pitch)) if pitches else None


def parallel_weights(lines, old) -> np.ndarray:
    """128 weights, ``PARALLEL`` for a new voice that would move in parallel fifths or octaves with
    one of ``lines`` ((before, after) pitches), each new pitch taken as the move of the nearest of
    the ``old`` voices."""
    weights = np.ones(128)
    if not old:
        return weights
    pitches = np.arange(128)
    voices = np.asarray(sorted(old))
    came = voices[np.abs(pitches[:, None] - voices[None, :]).argmin(axis=1)]
    parallel = np.zeros(128, bool)
    for was, now in lines:
        if was is None or now is None or was == now:
            continue
        interval = (now - pitches) % 12
        parallel |= (((was - came) % 12 == interval) & ((interval == 0) | (interval == 7)) & (came != pitches)
                     & ((pitches > came) == (now > was)))
    weights[parallel] = PARALLEL
    return weights


def poly_behaviour(mode: str) -> PolyBehaviour:
    return {"respond": PolyRespond, "duet": PolyDuet, "harmonize": Harmonize}[mode]()


# _CLASHES[pc]: 128 weights, CLASH for each pitch dissonant with pitch class pc, else 1.
_CLASHES = np.asarray([[CLASH if harmony.dissonant(pc, other) else 1.0 for other in range(128)] for pc in range(12)])


def clash_weights(sounding) -> np.ndarray:
    """128 weights: ``CLASH`` for a pitch dissonant with one of ``sounding``, else 1."""
    weights = np.ones(128)
    for pc in {p % 12 for p in sounding}:
        np.minimum(weights, _CLASHES[pc], out=weights)
    return weights
