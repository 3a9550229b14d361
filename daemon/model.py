"""One LSTM step at a time through onnxruntime, with the recurrent state carried inside.

The engine calls ``feed`` once per grid step (every 150 ms at 100 bpm in 16ths), so the hot
path reuses buffers bound once through IOBinding: the token, the state going in and the
state coming out are numpy arrays that onnxruntime reads and writes in place. The softmax
is left to ``probabilities()``, asked for only on the steps where jamd plays: between notes,
with its caches cold, each numpy call costs the engine thread 10-25 us.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

import jamd.daemon
from jamd.daemon.encoding import REST_ID, START_ID, Vocabulary, token_pitches
from jamd.daemon.errors import JamdError
from jamd.daemon.poly_encoding import token_pitch as poly_token_pitch
from jamd.daemon.sidecar import Sidecar, load_sidecar, sidecar_path

_DTYPES = {"int32": np.int32, "int64": np.int64}


def model_dirs() -> list[Path]:
    """Where model names are looked up: each dir in $JAMD_MODELS (os.pathsep-separated), then the
    shipped models: models/ beside daemon/, in a checkout and in the installed package alike."""
    extra = [Path(p) for p in os.environ.get("JAMD_MODELS", "").split(os.pathsep) if p]
    return extra + [Path(jamd.daemon.__file__).resolve().parents[1] / "models"]


def shipped_models() -> list[str]:
    """Sorted names of the models found in ``model_dirs()``; Program Change n picks the n-th."""
    return sorted({p.stem for d in model_dirs() if d.is_dir() for p in d.glob("*.onnx")})


def resolve_model(name_or_path: str | Path) -> Path:
    """The .onnx file for a model name (``folk``) or a path (``runs/x.onnx``)."""
    text = str(name_or_path)
    if text.endswith(".onnx") or os.sep in text or "/" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise JamdError(f"{path}: model file not found; give a .onnx path or one of: {_known()}")
        return path
    for directory in model_dirs():
        path = directory / f"{text}.onnx"
        if path.is_file():
            return path
    raise JamdError(f"model '{text}' not found in {', '.join(map(str, model_dirs()))}; "
                    f"known models: {_known()} (a folder of your own .onnx + .json models: set JAMD_MODELS to it; "
                    "rebuild the shipped ones in a checkout with `make models`)")


def _known() -> str:
    return ", ".join(shipped_models()) or "none"


class StepModel:
    """A single-step ONNX LSTM and its sidecar. Not thread-safe: one engine thread owns it."""

    def __init__(self, onnx_path: Path, sidecar: Sidecar):
        self.path = Path(onnx_path)
        self.sidecar = sidecar
        try:
            self.vocab: Vocabulary = sidecar.vocab  # what step() reads
        except ValueError:
            raise JamdError(f"{sidecar_path(self.path)}: vocabulary has a token that is not start, rest, hold "
                            "or pitches like '60.64.67'; re-export the model") from None
        self.outputs: tuple[str, ...] = sidecar.outputs  # what step()'s probabilities score
        self.steps = 0  # tokens fed since load, for tests and stats
        options = ort.SessionOptions()
        # One thread each: the Pi has 4 cores and the MIDI threads must never wait on ours;
        # spinning threads would burn a core between steps that are 100+ ms apart.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises several unrelated types for bad files
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise JamdError(f"{self.path}: not a loadable ONNX model ({first[:160]}); "
                            "re-export it with jamd-train or restore the file") from None
        self._check_io()
        # One [1, 1] buffer per non-state input, filled as the sidecar says (daemon/sidecar.py).
        self._inputs = {i.fill: np.zeros((1, 1), dtype=_DTYPES[i.dtype]) for i in sidecar.inputs}
        self._token = self._inputs["token"]
        self._bar_step = self._inputs.get("bar_step")  # None: a model that is not told the bar position
        self._bar_steps = self._inputs.get("bar_steps")
        bounds = {i.fill: (i.low, i.high) for i in sidecar.inputs}
        self._bar_step_range = bounds.get("bar_step", (0, 0))
        self._bar_steps_range = bounds.get("bar_steps", (1, 1))
        # Two state buffers per state, read and written in turns (ping-pong): a step writes the
        # other buffer, so carrying the state is flipping an index, not copying it.
        self._states = [[np.zeros((1, s.size), np.float32) for s in sidecar.state] for _ in range(2)]
        self._current = 0  # self._states[self._current] is the state the next step reads
        self._logits = np.zeros((1, len(sidecar.outputs)), np.float32)  # chords: one per chord symbol
        self._bindings = [self._bind(self._states[i], self._states[1 - i]) for i in range(2)]
        try:
            self.step(START_ID)
        except Exception as e:
            raise JamdError(f"{self.path}: model fails on its first step ({str(e)[:160]}); "
                            "check it matches its sidecar or re-export it") from None
        self.reset()
        self.steps = 0

    def _bind(self, state_in: list[np.ndarray], state_out: list[np.ndarray]):
        binding = self._session.io_binding()
        for spec in self.sidecar.inputs:
            binding.bind_cpu_input(spec.name, self._inputs[spec.fill])
        for s, buf_in, buf_out in zip(self.sidecar.state, state_in, state_out):
            binding.bind_cpu_input(s.input, buf_in)
            binding.bind_ortvalue_output(s.output, ort.OrtValue.ortvalue_from_numpy(buf_out))
        binding.bind_ortvalue_output(self.sidecar.logits_output, ort.OrtValue.ortvalue_from_numpy(self._logits))
        return binding

    @property
    def name(self) -> str:
        return self.sidecar.name

    @property
    def steps_per_beat(self) -> int:
        return self.sidecar.steps_per_beat

    @property
    def hears_position(self) -> bool:
        """True for a model that is fed the bar position with each token (jamd-model/2)."""
        return self._bar_step is not None or self._bar_steps is not None

    def _check_io(self) -> None:
        """Sidecar names and sizes against the graph, so a mismatch fails at load, not mid-song."""
        side = sidecar_path(self.path)
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        want_in = {**{i.name: None for i in self.sidecar.inputs}, **{s.input: s.size for s in self.sidecar.state}}
        want_out = {self.sidecar.logits_output: len(self.sidecar.outputs),
                    **{s.output: s.size for s in self.sidecar.state}}
        fix = f"re-export the model so {self.path.name} and {side.name} agree"
        pitches = (lambda t: [p for p in [poly_token_pitch(t)] if p is not None]) if self.sidecar.step_token \
            else token_pitches
        bad = [t for t in self.vocab.tokens if any(not 0 <= p <= 127 for p in pitches(t))]
        if bad:
            raise JamdError(f"{side}: vocabulary has tokens outside MIDI notes 0-127: {bad[:3]}; {fix}")
        for kind, have, want in (("input", inputs, want_in), ("output", outputs, want_out)):
            if set(have) != set(want):
                raise JamdError(f"{side}: sidecar names {kind}s {sorted(want)} but {self.path.name} has "
                                f"{sorted(have)}; {fix}")
            for name, size in want.items():
                last = have[name].shape[-1] if have[name].shape else None
                if size is not None and isinstance(last, int) and last != size:
                    what = "output vocabulary size" if name == self.sidecar.logits_output else "state size"
                    raise JamdError(f"{side}: {what} is {size} but {self.path.name} {kind} '{name}' "
                                    f"has width {last}; {fix}")
        for spec in self.sidecar.inputs:
            dtype = inputs[spec.name].type
            if dtype != f"tensor({spec.dtype})":
                raise JamdError(f"{side}: input '{spec.name}' is {spec.dtype} in the sidecar but the graph wants "
                                f"{dtype}; {fix}")

    def reset(self) -> None:
        """Zero the recurrent state (the caller then feeds ``start``)."""
        for buf in self._states[self._current]:
            buf.fill(0.0)

    def feed(self, token_id: int, bar_step: int = 0, bar_steps: int = 0) -> None:
        """Feed one token (one grid step) and carry the state; ``probabilities()`` then scores what follows.

        ``bar_step``, ``bar_steps``: the bar position of the step after this token's (``daemon/metre.py``),
        clamped into the model's ranges; a model not told positions ignores them. The engine feeds
        every step but needs the probabilities only on steps where jamd plays.
        """
        self._token[0, 0] = token_id
        if self._bar_steps is not None:
            low, high = self._bar_steps_range
            bar_steps = low if bar_steps < low else high if bar_steps > high else bar_steps
            self._bar_steps[0, 0] = bar_steps
        if self._bar_step is not None:
            low, high = self._bar_step_range
            self._bar_step[0, 0] = low if bar_step < low else high if bar_step > high else bar_step
        self._session.run_with_iobinding(self._bindings[self._current])
        self._current = 1 - self._current
        self.steps += 1

    def probabilities(self) -> np.ndarray:
        """A new float64 array of probabilities over ``sidecar.outputs`` after the last token fed.

        A melody model scores the next token; a chords model the chord of the next beat.
        """
        logits = self._logits[0].astype(np.float64)
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        return probs

    def step(self, token_id: int, bar_step: int = 0, bar_steps: int = 0) -> np.ndarray:
        """``feed(...)``, then ``probabilities()``."""
        self.feed(token_id, bar_step, bar_steps)
        return self.probabilities()

    def run(self, ids, positions=None):
        """Probabilities after each of ``ids`` in turn, from the current state (a generator).

        ``positions``: [len(ids), 2] (bar_step, bar_steps) fed with each token, as training did.
        """
        for i, token in enumerate(ids):
            if positions is None:
                yield self.step(token)
            else:
                yield self.step(token, int(positions[i, 0]), int(positions[i, 1]))

    def get_state(self) -> tuple[np.ndarray, ...]:
        """A copy of the recurrent state, to try a branch and come back with ``set_state``."""
        return tuple(buf.copy() for buf in self._states[self._current])

    def set_state(self, state: tuple[np.ndarray, ...]) -> None:
        """Restore a state from ``get_state``."""
        for buf, value in zip(self._states[self._current], state):
            np.copyto(buf, value)


def load_model(name_or_path: str | Path) -> StepModel:
    """Load a model by name (``folk``, looked up in ``model_dirs()``) or by .onnx path, with its sidecar."""
    path = resolve_model(name_or_path)
    return StepModel(path, load_sidecar(sidecar_path(path)))


def sample(probs: np.ndarray, temperature: float, top_k: int, rng: np.random.Generator) -> int:
    """A token id drawn from ``probs``; never ``start``, never one of probability 0 (rest if none is left).

    Temperature 0 = the likeliest; top_k 0 = all.
    """
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    logp[START_ID] = -np.inf
    if not np.isfinite(logp).any():
        return REST_ID
    if temperature <= 0.0:
        return int(np.argmax(logp))
    logp = logp / temperature
    if 0 < top_k < len(logp) - 1:
        cut = np.partition(logp, -top_k)[-top_k]
        logp[logp < cut] = -np.inf
    logp -= logp.max()
    weights = np.exp(logp)
    cumulative = np.cumsum(weights)
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), len(probs) - 1))
