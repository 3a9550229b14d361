"""A variable-order n-gram model over token ids (PPM, escape method C, blended).

Two uses: the baseline that ``jamd-train evaluate`` scores beside the LSTM (trained once
with ``fit``, then only fed with ``update(t, learn=False)``), and the daemon's short-term
model (fed every grid step with ``learn=True`` and a ``window`` so memory stays bounded).

Smoothing: interpolated PPM with escape method C (Moffat 1990), as in IDyOM's default
``mixtures``: for a context ``s`` seen ``n`` times with ``u`` distinct successors,

    P(x | s) = c(x | s) / (n + u)  +  u / (n + u) * P(x | s without its oldest token)

down to order 0, blended finally with the uniform distribution 1/V, so every token of
the vocabulary keeps a nonzero probability. No exclusion: blending every order keeps the
estimate smooth, which matters more for prediction than the bits exclusion saves in
compression. Contexts never seen are skipped (their weight passes on whole).

Contexts are the last ``k`` ids folded into one Python int (base V+1, newest first), so a
lookup is one dict access and all orders live in the same dict; each update derives the next
context's keys from the last ones, one multiply-add per order. Order 0 is also kept as a numpy
row of counts, so a query adds up in Python only the few successors of the longer contexts.
With the daemon's settings (orders 0-6, window 2048; ``bench/model_step.py``, x86-64 core)
learning a token costs 4-6 us and a distribution 9 us for folk (89 tokens), 10 us for
nottingham (321), 28 us for piano (1,625). ``bench/ppm_speed.py`` times the evaluation baseline.
Imports numpy and the stdlib only: it runs inside the daemon.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Sequence

import numpy as np

MAX_ORDER = 8


class PPM:
    """Counts of ``token after context`` for every context of length 0..``order``.

    ``vocab_size``: number of token ids (ids are 0..V-1). ``order``: longest context, in
    grid steps. ``window``: with ``learn=True`` updates, only the last ``window`` learned
    tokens are remembered (older ones are forgotten exactly, count by count), so the
    daemon's memory stays bounded however long it plays; ``fit`` counts are permanent.
    """

    def __init__(self, vocab_size: int, order: int = MAX_ORDER, window: int | None = None):
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
        if not 0 <= order <= 32:
            raise ValueError(f"order must be 0 to 32 grid steps, got {order}")
        if window is not None and window < 1:
            raise ValueError(f"window must be at least 1 token (or None), got {window}")
        self.vocab_size = vocab_size
        self.order = order
        self.window = window
        self._base = vocab_size + 1
        self._counts: dict[int, dict[int, int]] = {}  # context -> {token: count}
        self._totals: dict[int, int] = {}  # context -> sum of its counts (n)
        # Order 0 again as a row of V counts: its context holds every token played lately
        # (hundreds for piano), too many to add up one by one in Python at every query.
        self._counts0 = np.zeros(vocab_size, np.float64)
        self._context = [0]  # keys of the current context, order 0 up to ``order`` (fewer after a reset)
        self._learned: deque[tuple[list[int], int]] = deque()  # (context keys, token), oldest first
        self._uniform = 1.0 / vocab_size

    def __len__(self) -> int:
        """Number of distinct contexts stored (all orders)."""
        return len(self._counts)

    def reset(self) -> None:
        """Forget the current context (a new song begins); learned counts stay."""
        self._context = [0]

    def _add(self, keys: list[int], token: int, delta: int) -> None:
        counts, totals = self._counts, self._totals
        for key in keys:
            node = counts.get(key)
            if node is None:
                node = counts[key] = {}
                totals[key] = 0
            value = node.get(token, 0) + delta
            totals[key] += delta
            if value > 0:
                node[token] = value
            else:
                node.pop(token, None)
                if not node:
                    del counts[key], totals[key]
        self._counts0[token] += delta

    def update(self, token_id: int, learn: bool = True) -> None:
        """Append ``token_id`` to the context; with ``learn``, count it after every suffix first."""
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} outside the vocabulary (0..{self.vocab_size - 1})")
        context = self._context
        if learn:
            self._add(context, token_id, 1)
            if self.window is not None:
                self._learned.append((context, token_id))  # kept as is: the next context is a new list
                if len(self._learned) > self.window:
                    self._add(*self._learned.popleft(), -1)
        # Keys fold newest first, so the new key of order k+1 is the old key of order k shifted up
        # one digit, with ``token_id`` + 1 as its lowest digit.
        shifted, base = token_id + 1, self._base
        self._context = [0] + [shifted + base * key for key in context[:self.order]]

    @property
    def context(self) -> list[int]:
        """The current context: a value (``update`` replaces it, never changes it), so a
        look-ahead can ``update`` with ``learn=False`` and then put this back."""
        return self._context

    @context.setter
    def context(self, keys: list[int]) -> None:
        self._context = keys

    def distribution(self, out: np.ndarray | None = None) -> np.ndarray:
        """Probabilities (float64, sum 1, all > 0) of each token id following the current context.

        ``out``: a float64 array of ``vocab_size`` to fill in place; returned.
        """
        if out is None:
            out = np.empty(self.vocab_size, np.float64)
        counts, totals = self._counts, self._totals
        found = []
        for key in self._context:
            node = counts.get(key)
            if node is None:
                break  # a longer context contains this one, so it was never seen either
            found.append((node, totals[key]))
        if not found:
            out.fill(self._uniform)
            return out
        # Orders 1 and up, longest first, in plain Python: a few tokens each. Order 0 is a numpy
        # row. Each token's terms are added in the formula's order, so the figures are those of a
        # term-by-term evaluation to the last bit.
        mass, weight = [0.0] * self.vocab_size, 1.0
        for node, n in reversed(found[1:]):
            scale = weight / (n + len(node))
            for token, c in node.items():
                mass[token] += scale * c
            weight = scale * len(node)
        node, n = found[0]
        scale = weight / (n + len(node))
        weight = scale * len(node)
        np.multiply(self._counts0, scale, out=out)
        if len(found) > 1:
            seen = found[1][0]  # order 1 holds every token the longer contexts hold
            tokens = np.fromiter(seen, np.intp, len(seen))
            out[tokens] += np.fromiter(map(mass.__getitem__, seen), np.float64, len(seen))
        out += weight * self._uniform
        return out

    def fit(self, sequences: Iterable[Sequence[int]], progress: bool = False) -> "PPM":
        """Learn every sequence (each from an empty context, as after ``reset``); permanent counts."""
        window, self.window = self.window, None
        try:
            if progress:
                from tqdm import tqdm  # training side only; the daemon never asks for a bar

                sequences = tqdm(sequences, desc="n-gram", unit="song", leave=False)
            for sequence in sequences:
                self.reset()
                for token in sequence:
                    self.update(int(token), learn=True)
        finally:
            self.window = window
            self.reset()
        return self
