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

from jamd.daemon import chords, harmony
from jamd.daemon.model import sample
from jamd.daemon.poly_encoding import OFF, ON, PIANO_HIGH, PIANO_LOW, STEP

MAX_TOKENS = 16  # tokens one imagined step may hold before it is cut (ten fingers and a pedal)
KEY_NOTES = 4  # duet: the player's notes heard before jamd joins in
CLASH = 0.15  # duet/harmonize: weight of a note dissonant with one the player sounds
SILENT_BEATS = 1  # harmonize: the player silent this long, the voices end
VOICES = 3  # harmonize: alto, tenor and bass under the player's melody
PARALLEL = 0.05  # harmonize: weight of a voice moving in parallel fifths or octaves with the melody
ANSWER_TEMPERATURE = 0.3  # respond draws which notes at this times the temperature (bench/poly_answers.py)
ANSWER_TIMING = 1.2  # and whether to end a note, strike one or end the step at this times it (None: the same)
CANDIDATES = 4  # harmonize: voicings drawn for each melody note, the best played (chosen on training chorales)
PRIOR = 3.0  # harmonize: weight of log P(chord | melody degree) beside the model's log-probability
PRIOR_SMOOTHING = 0.5  # added to every chord's count under a degree (36 triads: 12 roots x 3 qualities)
NON_CHORD = 0.05  # harmonize: weight of a voice's pitch outside every chord the prior still expects


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
            parts: tuple[set[int], int] | None = None, logp: list | None = None,
            temperature: float | None = None, timing_temperature: float | None = None) -> tuple[list[int], list[int]]:
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
    ``temperature``: instead of the configured one. ``timing_temperature``: if given, each token's
    kind (end a note, strike one, end the step) is drawn at it and only which note at
    ``temperature``, so a low one picks likelier notes without cutting the notes' lengths short.
    Drawn onsets stay inside ``hub.in_range()``.
    """
    model, tokens = hub.model, hub.poly_tokens
    state, steps = model.get_state(), model.steps
    offs: list[int] = []
    ons: list[int] = []
    left = set(sounding)
    score = 0.0
    temperature = hub.config.temperature if temperature is None else temperature
    allowed = hub.in_range()[np.maximum(tokens.pitch, 0)]  # per token: a pitch --range allows
    if timing_temperature is not None:  # the kinds of token: ends, onsets, the step's end
        kinds = (tokens.is_off, tokens.is_on, np.arange(len(tokens.is_on)) == tokens.step)

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
            token = sample(choice, temperature, hub.config.top_k, hub.rng)
            score += np.log(max(choice[token], 1e-12))
            feed(token)
            if token == player_on:
                on_below, forced_on = forced_on, None
            continue
        limit = min([on_below] + ons)
        mask = tokens.is_on & (tokens.pitch < limit) & allowed
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
        if weights is not None:  # which notes, not whether to strike one: the onsets keep their share
            table = weights(ons) if callable(weights) else weights
            share = probs[tokens.is_on].sum()
            probs[tokens.is_on] *= table[tokens.pitch[tokens.is_on]]
            weighed = probs[tokens.is_on].sum()
            if weighed > 0:
                probs[tokens.is_on] *= share / weighed
        if probs.sum() <= 0:
            break
        if timing_temperature is not None:
            kind = draw([probs[k].sum() for k in kinds], timing_temperature, hub.rng)
            probs = np.where(kinds[kind], probs, 0.0)
        token = sample(probs, temperature, hub.config.top_k, hub.rng)
        score += np.log(max(probs[token], 1e-12))  # the model's, times the weights' preference
        if token == tokens.step:
            break
        feed(token)
    model.set_state(state)
    model.steps = steps
    if logp is not None:
        logp.append(float(score))
    return offs, ons


def draw(masses, temperature: float, rng: np.random.Generator) -> int:
    """An index drawn from ``masses`` (non-negative, not all 0) sharpened by ``temperature``."""
    if temperature <= 0.0:
        return int(np.argmax(masses))
    weights = np.asarray(masses, float) ** (1.0 / temperature)
    return min(int(np.searchsorted(np.cumsum(weights), rng.random() * weights.sum(), side="right")), len(weights) - 1)


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
                            weights=hub.key_weights(), temperature=ANSWER_TEMPERATURE * hub.config.temperature,
                            timing_temperature=None if ANSWER_TIMING is None else ANSWER_TIMING * hub.config.temperature)
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

        # The chords the chorales put under this degree of the key (the sidecar's ``degree_chords``).
        prior = ChordPrior(hub.model.sidecar.extra.get("degree_chords"), hub, top)
        held = sorted(self.mine - set(forced))

        def weights(ons):  # consonant with the melody, no parallels with it or with the voices written
            lines = [(before, top)] + [(_nearest(old, q), q) for q in ons if q != top]
            return clash * parallel_weights(lines, old) * prior.weights(held + list(ons))

        # The best of a few drawn voicings: no parallels with the last chord where one avoids them,
        # then the likeliest by the model and the prior.
        drawn = []
        for _ in range(CANDIDATES):
            score: list[float] = []
            offs, ons = imagine(hub, hub.texture, hub.position(step), forced_offs=forced, forced_on=top,
                                weights=weights, parts=(self.mine, VOICES), logp=score)
            after = sorted((self.mine - set(offs)) | {p for p in ons if p < top}) + [top]
            moves = parallel_moves(old + [before], after) if before is not None else 0
            drawn.append((moves, -score[0] - PRIOR * prior.log_p(after), (offs, ons)))
        offs, ons = min(drawn, key=lambda d: d[:2])[2]
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


_QUALITIES = ("", "m", "dim")
# _TRIADS[i]: 12 pitch-class flags of triad i = 3 * root + quality index.
_TRIADS = np.asarray([[(pc - root) % 12 in chords.QUALITIES[q] for pc in range(12)]
                      for root in range(12) for q in _QUALITIES], float)


def degree_chord(root: int, quality: str) -> str:
    """A ``degree_chords`` entry's name: the root relative to the tonic, then the quality (``"9m"``)."""
    return f"{root}{quality}"


def parse_degree_chord(name: str) -> tuple[int, str]:
    """(root relative to the tonic, quality) of a ``degree_chords`` entry's name."""
    quality = name.lstrip("0123456789")
    return int(name[:len(name) - len(quality)]), quality


class ChordPrior:
    """How often the chorales put each triad under the melody note's scale degree in the key heard
    (a poly sidecar's ``degree_chords``: per mode and degree, counts of chords, root relative to the
    tonic), as a score for a drawn voicing and as weights that steer the drawing of its voices
    toward the tones of the likely chords (the key: ``hub.key()``). Neutral without a table, and
    before the player's first note unless the key is configured."""

    def __init__(self, table: dict | None, hub, melody: int) -> None:
        self.probs = None
        if not table or not table.get("chorales") or not (hub.player.notes or hub.config.key):
            return
        tonic, minor = hub.key()
        counts = table["minor" if minor else "major"].get(str((melody - tonic) % 12), {})
        probs = np.full(len(_TRIADS), PRIOR_SMOOTHING)
        for name, count in counts.items():
            root, quality = parse_degree_chord(name)
            probs[3 * ((root + tonic) % 12) + _QUALITIES.index(quality)] += count
        self.probs = probs / probs.sum()

    def log_p(self, pitches) -> float:
        if self.probs is None:
            return 0.0
        found = chords.triad(chords.identify(pitches))
        if found is None or found[1] not in _QUALITIES:
            return float(np.log(PRIOR_SMOOTHING / len(_TRIADS)))
        return float(np.log(self.probs[3 * found[0] + _QUALITIES.index(found[1])]))

    def weights(self, pitches) -> np.ndarray:
        """128 weights: the chance a pitch's class is in the chord, given the chord holds ``pitches``."""
        if self.probs is None:
            return np.ones(128)
        posterior = self.probs * _TRIADS[:, sorted({p % 12 for p in pitches})].all(axis=1)
        if posterior.sum() <= 0:
            return np.ones(128)
        inside = posterior @ _TRIADS / posterior.sum()
        return np.tile(np.maximum(inside, NON_CHORD), 11)[:128]


def parallel_moves(before, after) -> int:
    """Parallel fifths and octaves from chord ``before`` to ``after`` (pitches, voices paired high
    to low; None for a voice not sounding): two voices a fifth or an octave apart (or compound)
    in both, both moving the same way."""
    a, b = sorted((p for p in before if p is not None), reverse=True), sorted(after, reverse=True)
    count = 0
    for i in range(min(len(a), len(b))):
        for j in range(i + 1, min(len(a), len(b))):
            was, now = (a[i] - a[j]) % 12, (b[i] - b[j]) % 12
            up, down = b[i] - a[i], b[j] - a[j]
            count += was == now and was in (0, 7) and up != 0 and down != 0 and (up > 0) == (down > 0)
    return count


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
