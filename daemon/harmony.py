"""What the modes know of harmony: the key heard, consonance, and per-token pitch tables.

Pure numpy, no model: the behaviours in ``daemon/modes.py`` reweight the model's probabilities
with these tables at sampling time (a melody model knows the key only as well as it has heard
it, and it knows nothing of a second voice).

- Key: Aarden-Essen profiles (Aarden 2003, counted from Essen folk melodies) correlated with the
  pitch classes heard. For a melody alone they beat the Krumhansl-Kessler probe-tone profiles:
  the key heard note by note in the sopranos of 120 training chorales is the score's on 54.3% of
  the notes, against 47.1% (the audition still analyses a file's key with Krumhansl-Schmuckler
  over its whole texture, as music21 does).
- Consonance between two notes, by interval class: dissonant are 2nds, 7ths and the tritone
  (1, 2, 6, 10, 11 semitones), as in ``training/musicianship.py``. ``VOICE_WEIGHTS`` is what a
  second voice prefers: 3rds and 6ths, then 4ths and 5ths, then the octave.
"""

from __future__ import annotations

import numpy as np

from jamd.daemon.encoding import Vocabulary, token_pitches

# Aarden-Essen (music21's analysis.discrete.AardenEssen), C major / C minor.
MAJOR_PROFILE = (17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
                 0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122)
MINOR_PROFILE = (18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
                 0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623)
DISSONANT = (1, 2, 6, 10, 11)  # interval classes, semitones
# A second voice's taste per interval class 0..11: 3rds and 6ths first, the octave last of the consonances.
VOICE_WEIGHTS = np.array([0.3, 0.0, 0.0, 1.0, 1.0, 0.6, 0.0, 0.7, 1.0, 1.0, 0.0, 0.0])
SPECIAL = 12  # the pitch-class index of start, rest and hold in ``Palette.top_pc`` (13-entry weights)

_PROFILES = np.array([np.roll(p, t) for p in (MAJOR_PROFILE, MINOR_PROFILE) for t in range(12)])
_PROFILES = (_PROFILES - _PROFILES.mean(1, keepdims=True)) / _PROFILES.std(1, keepdims=True)


def key_of(counts: np.ndarray) -> tuple[int, bool]:
    """(tonic pitch class 0-11, minor?) best correlated with ``counts``, 12 pitch-class weights."""
    spread = counts.std()
    if spread == 0:
        return 0, False
    scores = _PROFILES @ ((counts - counts.mean()) / spread)
    best = int(np.argmax(scores))
    return best % 12, best >= 12


MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 9, 10, 11)  # natural, with the raised sixth and seventh


def scale_of(tonic: int, minor: bool) -> tuple[int, ...]:
    """Pitch classes of the key's scale (minor: natural, harmonic and melodic together)."""
    return tuple((tonic + step) % 12 for step in (MINOR_SCALE if minor else MAJOR_SCALE))


def tonic_triad(tonic: int, minor: bool) -> tuple[int, int, int]:
    return tonic % 12, (tonic + (3 if minor else 4)) % 12, (tonic + 7) % 12


def dissonant(a: int, b: int) -> bool:
    return abs(a - b) % 12 in DISSONANT


def consonance(against: np.ndarray) -> np.ndarray:
    """Per pitch class 0-11, how well it sounds as a second voice against ``against`` (12 weights
    of the other voice's pitch classes, summing to 1): ``VOICE_WEIGHTS`` averaged over them."""
    table = VOICE_WEIGHTS[(np.arange(12)[:, None] - np.arange(12)[None, :]) % 12]  # [mine, theirs]
    return table @ against


class Palette:
    """Per-token tables of a model's vocabulary, made once per model.

    ``pitches[id]``: the token's MIDI pitches; ``top[id]``: its highest pitch (-1 for start, rest,
    hold); ``top_pc[id]``: that pitch's class, ``SPECIAL`` for start, rest and hold, so
    ``probs * weights[top_pc]`` reweights pitches by class and leaves the rest alone.
    """

    def __init__(self, vocab: Vocabulary):
        self.pitches = [token_pitches(t) for t in vocab.tokens]
        self.top = np.array([max(p) if p else -1 for p in self.pitches])
        self.top_pc = np.where(self.top >= 0, self.top % 12, SPECIAL)
        self.is_pitch = self.top >= 0
        self._weights = np.ones(SPECIAL + 1)  # 12 pitch-class weights, then 1 for the specials

    def weigh(self, probs: np.ndarray, pc_weights: np.ndarray) -> np.ndarray:
        """``probs`` with each pitch token's probability times its class's weight (12 weights)."""
        self._weights[:SPECIAL] = pc_weights
        return probs * self._weights[self.top_pc]

    def pitch_classes(self, probs: np.ndarray) -> np.ndarray:
        """The pitch mass of ``probs`` per pitch class (12 values, summing to 1; uniform if none)."""
        mass = np.bincount(self.top_pc, weights=probs, minlength=SPECIAL + 1)[:12]
        total = mass.sum()
        return mass / total if total > 0 else np.full(12, 1 / 12)
