"""Frame-level negative log-likelihood of piano rolls (Boulanger-Lewandowski et al., ICML 2012 protocol).

Their protocol (the dataset page, www-etud.iro.umontreal.ca/~boulanni/icml2012): each piece
transposed to C major or C minor, a piano-roll frame (the set of keys 21-108 down) every eighth
note (every quarter note for the chorales), and the NLL averaged over all frames of all test
pieces alike (nats per frame). Here, on the held-out chorales and Nottingham tunes of the poly
model's own split (its sidecar's ``validation_songs``), side by side:

- ``poly``: the new model. A frame sequence is turned into notes (a key down in consecutive
  frames is one held note), encoded on jamd's 16th grid and scored token by token. That is the
  probability of one way of playing the roll (it could also be re-struck), with the grid steps
  between frames predicted as "nothing changes": an upper bound on the roll's NLL, never flattering.
- ``old``: the previous ``piano`` model (one token per 16th: the pitch set struck, hold, rest).
  A frame whose set is not one of its tokens has probability 0 under it: those pieces' NLL is
  infinite, and the share of frames it cannot say is printed.
The same three on frames of a 16th (jamd's grid) follow: there the poly model scores the roll
itself (re-articulation aside), with nothing between frames, and the n-gram gets the same frames.

- ``ngram``: a frame bigram trained on the poly model's training pieces of the same collection
  (same frames), interpolated with independent per-key on/off rates given the previous frame
  (so that every frame has a probability); the weight is chosen on the last tenth of training.

    .venv/bin/python bench/frame_nll.py [--model piano] [--old PATH.onnx]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict

import numpy as np

from jamd.daemon import poly_encoding as poly
from jamd.daemon.encoding import Note, REST_ID, HOLD_ID, START_ID
from jamd.daemon.model import load_model
from jamd.daemon.metre import Bar, MetreError, regular_bars, token_positions
from jamd.training import readers
from jamd.training.sources import resolve

# (name marker, frame in beats): the protocol's frames, then jamd's own grid (16ths), where the
# roll is what the model was trained on and no step between two frames goes unseen.
COLLECTIONS = {"chorales": ("music21:bach/", 1.0), "nottingham": ("nottingham/MIDI/", 0.5),
               "chorales@16th": ("music21:bach/", 0.25), "nottingham@16th": ("nottingham/MIDI/", 0.25)}
LOW, HIGH = poly.PIANO_LOW, poly.PIANO_HIGH


def roll(name: str, frame: float) -> tuple[list[frozenset], list]:
    """(frames from the first onset, its bars in 16ths from that onset) of a piece, transposed to C
    major / C minor. The bars are the file's (a pickup's downbeat where it is); 4/4 if it has none."""
    path = resolve(name)[0][0]
    _, notes, key, metre = readers.read_file(path).songs[0]
    tonic, _ = readers.key_tonic(key or readers.analyse_key(notes))
    shift = -tonic if tonic <= 6 else 12 - tonic
    first = min(n.start for n in notes)
    end = max(n.start + n.duration for n in notes)
    frames = []
    for t in np.arange(first, end - 1e-6, frame):
        frames.append(frozenset(n.pitch + shift for n in notes
                                if n.start <= t + 1e-6 < n.start + n.duration and LOW <= n.pitch + shift <= HIGH))
    origin = round(first * 4)
    try:
        bars = [Bar(b.start - origin, b.length) for b in metre.on_grid(4)[0]]
    except (AttributeError, MetreError):  # no bar lines to place: regular 4/4 from the first onset
        bars = regular_bars(16, 0, round((end - first) * 4) + 1)
    return frames, bars


def as_notes(frames: list[frozenset], frame: float) -> list[Note]:
    """Each run of frames a key is down in: one note."""
    notes, began = [], {}
    for i, keys in enumerate(frames + [frozenset()]):
        for p in [p for p in began if p not in keys]:
            start = began.pop(p)
            notes.append(Note(start * frame, (i - start) * frame, p))
        for p in keys:
            began.setdefault(p, i)
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def nll_poly(model, frames, frame: float, bars) -> float:
    """Total nats of the roll under a poly model (its tokens from ``start`` through the last frame)."""
    spb = model.steps_per_beat
    notes = as_notes(frames, frame)
    if not notes:
        return 0.0
    tokens = poly.encode(notes, spb)
    vocab = model.vocab
    ids = vocab.encode(tokens)
    is_step = np.asarray([t == poly.STEP for t in tokens])
    writing = round(notes[0].start * spb) + np.cumsum(is_step)
    table = token_positions(bars, 0, int(writing.max()) + 1)
    model.reset()
    total = 0.0
    probs = None
    for i, token in enumerate(ids):
        if probs is not None:
            total -= math.log(max(probs[token], 1e-300))
        probs = model.step(token, *table[writing[i]])
    return total


def nll_old(model, frames, frame: float) -> tuple[float, int]:
    """(total nats, frames it cannot say) under a one-token-a-step model of pitch sets."""
    spb, vocab = model.steps_per_beat, model.vocab
    per = round(frame * spb)
    ids, missing, previous = [START_ID], 0, frozenset()
    for keys in frames:
        if keys == previous:
            token = HOLD_ID if keys else REST_ID
        elif not keys:
            token = REST_ID
        else:
            name = ".".join(map(str, sorted(keys)))
            token = vocab.id(name) if name in vocab else None
            missing += token is None
        ids.append(token)
        ids += [HOLD_ID if keys else REST_ID] * (per - 1)
        previous = keys
    if missing:
        return math.inf, missing
    model.reset()
    total, probs = 0.0, None
    for token in ids:
        if probs is not None:
            total -= math.log(max(probs[token], 1e-300))
        probs = model.step(token)
    return total, 0


class FrameBigram:
    """P(frame | previous frame): bigram counts interpolated with independent per-key rates."""

    def __init__(self, pieces: list[list[frozenset]]):
        self.pairs: dict = defaultdict(Counter)
        on = np.ones((2, HIGH + 1))  # [key was down?][key] -> times down next (add-one)
        seen = np.full((2, HIGH + 1), 2.0)
        for frames in pieces:
            for a, b in zip([frozenset()] + frames, frames):
                self.pairs[a][b] += 1
                down = np.zeros(HIGH + 1, bool)
                down[list(a)] = True
                nxt = np.zeros(HIGH + 1, bool)
                nxt[list(b)] = True
                for was in (0, 1):
                    keys = down == bool(was)
                    seen[was, keys] += 1
                    on[was, keys & nxt] += 1
        self.rate = on / seen
        self.weight = 0.5

    def log_p(self, a: frozenset, b: frozenset) -> float:
        down = np.zeros(HIGH + 1, bool)
        down[list(a)] = True
        nxt = np.zeros(HIGH + 1, bool)
        nxt[list(b)] = True
        p = np.where(down, self.rate[1], self.rate[0])[LOW:]
        keys = np.log(np.where(nxt[LOW:], p, 1 - p)).sum()
        counts = self.pairs.get(a)
        seen = counts[b] / sum(counts.values()) if counts else 0.0
        return math.log(self.weight * seen + (1 - self.weight) * math.exp(keys))

    def nll(self, frames) -> float:
        return -sum(self.log_p(a, b) for a, b in zip([frozenset()] + frames, frames))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="piano", help="the poly model (default: piano)")
    parser.add_argument("--old", help="the previous piano model's .onnx (e.g. from `git show`), optional")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = load_model(args.model)
    old = load_model(args.old) if args.old else None
    training = model.sidecar.training
    held = set(training.get("validation_songs", []))
    results = {}
    for collection, (marker, frame) in COLLECTIONS.items():
        names = [n for n in held if marker in n]
        trained = [n for n in _training_pieces(model) if marker in n]
        test = [roll(n, frame) for n in sorted(names)]
        train = [roll(n, frame)[0] for n in trained]
        cut = max(1, len(train) // 10)
        ngram = FrameBigram(train[:-cut])
        scores = {}
        for weight in (0.1, 0.3, 0.5, 0.7, 0.9):
            ngram.weight = weight
            scores[weight] = sum(ngram.nll(f) for f in train[-cut:])
        ngram = FrameBigram(train)
        ngram.weight = min(scores, key=scores.get)
        frames = sum(len(f) for f, _ in test)
        row = {"pieces": len(test), "frames": frames, "frame_beats": frame, "ngram_weight": ngram.weight,
               "poly": sum(nll_poly(model, f, frame, b) for f, b in test) / frames,
               "ngram": sum(ngram.nll(f) for f, _ in test) / frames}
        if old is not None:
            scored = [nll_old(old, f, frame) for f, _ in test]
            row["old"] = sum(s for s, _ in scored) / frames
            row["old_unsayable_frames"] = sum(m for _, m in scored) / frames
        results[collection] = {k: (round(v, 3) if isinstance(v, float) and math.isfinite(v) else v)
                               for k, v in row.items()}
        print(f"{collection}: {results[collection]}", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=1) if args.json else _table(results))


def _training_pieces(model) -> list[str]:
    """The poly model's training pieces: every piece of its sources but the held-out ones."""
    from jamd.training.poly_data import load_poly

    held = set(model.sidecar.training.get("validation_songs", []))
    songs, _, _ = load_poly(model.sidecar.corpus.get("sources", []), progress=False)
    return [s.name for s in songs if s.name not in held]


def _table(results: dict) -> str:
    rows = ["NLL per frame (nats; lower is better)", f"{'':<12}{'frames':>8}{'poly':>9}{'ngram':>9}{'old':>9}"]
    for name, r in results.items():
        old = r.get("old")
        rows.append(f"{name:<12}{r['frames']:>8}{r['poly']:>9}{r['ngram']:>9}{'-' if old is None else old:>9}"
                    + (f"  (old cannot say {r['old_unsayable_frames']:.0%} of frames)" if r.get("old_unsayable_frames") else ""))
    return "\n".join(rows)


if __name__ == "__main__":
    main()
