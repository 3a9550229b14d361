"""What a model kind is and what it can do: the one place that asks "is it a chords model?".

A sidecar's ``kind`` names one of ``KINDS``. Everything that depends on the kind (which modes
it plays, what its logits score, whether the short-term model blends into it, whether it can
write a melody for ``generate``/``evaluate``/``compare``) reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from jamd.daemon.errors import JamdError


@dataclass(frozen=True)
class Kind:
    name: str
    modes: tuple[str, ...]  # the modes a model of this kind plays; the first is its default
    scores_chords: bool  # its logits score extra.chords (the chord of the next beat), not the next token
    blends: bool  # the short-term model of the session blends into its probabilities
    instead: str  # what to run instead of generate/evaluate/compare, which need a melody model
    # Several tokens per grid step, ended by the sidecar's ``step_token`` (daemon/poly_encoding.py):
    # it hears and plays notes that each last on their own; its vocabulary begins start, step.
    polyphonic: bool = False

    @property
    def writes_melody(self) -> bool:
        """Its logits score the next token of a one-token-a-step melody vocabulary: it can continue
        a melody as ``generate``/``evaluate``/``compare`` and the melody modes do."""
        return not self.scores_chords and not self.polyphonic


MELODY = Kind("melody", ("respond", "next", "duet"), scores_chords=False, blends=True, instead="")
CHORDS = Kind("chords", ("chords",), scores_chords=True, blends=False,
              instead="`jamd play MELODY.mid -o OUT.mid --mode chords --model {model}` or "
                      "`jamd-train evaluate-chords {model} DIR`")
POLY = Kind("poly", ("respond", "duet", "harmonize"), scores_chords=False, blends=False, polyphonic=True,
            instead="`jamd-train audition-poly {model}`, `bench/frame_nll.py --model {model}` or "
                    "`jamd play PIECE.mid -o OUT.mid --mode harmonize --model {model}`")
KINDS = {kind.name: kind for kind in (MELODY, CHORDS, POLY)}
MODES = tuple(dict.fromkeys(mode for kind in KINDS.values() for mode in kind.modes))


def kind_named(name: str) -> Kind:
    """The kind called ``name``; JamdError listing the known ones otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise JamdError(f"model kind {name!r} unknown; expected one of {tuple(KINDS)}") from None


def check_mode(mode: str, kind: Kind, model: str) -> None:
    """JamdError unless a ``kind`` model named ``model`` can play ``mode``, saying what to do instead."""
    if mode in kind.modes:
        return
    others = [k for k in KINDS.values() if mode in k.modes]
    fix = (f"use --mode {kind.modes[0]}" if not others else
           f"use --mode {'/'.join(kind.modes)}, or a {others[0].name} model for mode {mode}"
           + (", e.g. --model nottingham-chords" if others[0] is CHORDS else ""))
    raise JamdError(f"model {model} is a {kind.name} model and cannot play mode {mode}; {fix}")


def require_melody(kind: Kind, model: str, what: str) -> None:
    """JamdError unless the model can continue a melody (``what``: the command that needs it)."""
    if not kind.writes_melody:
        why = ("it writes several notes a grid step, each lasting on its own, where " if kind.polyphonic else
               "it accompanies a melody rather than writing one, so ")
        raise JamdError(f"{model} is a {kind.name} model: {why}{what} needs a melody model; "
                        f"try {kind.instead.format(model=model)}")
