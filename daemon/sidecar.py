"""The model sidecar: the JSON file beside each ``.onnx`` that tells the daemon how to run it.

Written by ``training/export.py``, read by the daemon. Format ``jamd-model/2``::

    {
      "format": "jamd-model/2",
      "name": "folk",
      "kind": "melody",                      # daemon/kinds.py: melody or chords
      "vocabulary": ["start", "rest", "hold", "60", ...],
      "steps_per_beat": 4,                   # grid steps per quarter note
      "inputs": [                            # every input but the state; "fill" says what goes in
        {"name": "token", "dtype": "int32", "shape": [1, 1], "fill": "token"},
        {"name": "bar_step", "dtype": "int32", "shape": [1, 1], "fill": "bar_step", "range": [0, 95]},
        {"name": "bar_steps", "dtype": "int32", "shape": [1, 1], "fill": "bar_steps", "range": [1, 96]}
      ],
      "logits_output": "logits",
      "state": [{"input": "h", "output": "h_out", "size": 256},
                {"input": "c", "output": "c_out", "size": 256}],
      "corpus": {...}, "training": {...}, "metrics": {...},
      "extra": {...},                        # kind "chords": {"chords": ["N", "C", "Cm", ...], ...}
      "step_token": "step"                   # kind "poly" only: see below
    }

``fill`` is one of ``FILLS``: ``token`` (the token id), ``bar_step`` and ``bar_steps`` (the bar
position of the step after the token's, ``daemon/metre.py``), clamped into ``range``. The daemon
binds inputs by reading this list, never by knowing a model kind.

A ``chords`` model reads melody tokens (``vocabulary``) and its logits score the chord
symbols of ``extra.chords`` (``daemon/chords.py``), one chord per beat.

A ``poly`` model (``daemon/poly_encoding.py``) reads and writes several tokens per grid step:
``step_token`` names the token that ends a step, and its vocabulary begins ``start``, ``step``.
The daemon feeds a step's tokens (its ``off:P``, its ``on:P``, then ``step``) and, where jamd
plays, samples tokens until it draws ``step_token``. Without ``step_token`` a grid step is one token.

Format ``jamd-model/1`` (no ``inputs``, a ``token_input`` instead, no position) still loads:
its one input is the token.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jamd.daemon.chords import check_vocabulary
from jamd.daemon.encoding import SPECIAL_TOKENS, Vocabulary
from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import KINDS, Kind
from jamd.daemon.metre import MAX_BAR_STEPS
from jamd.daemon.poly_encoding import STEP, PolyVocabulary

FORMAT = "jamd-model/2"
FORMATS = ("jamd-model/1", FORMAT)  # what this jamd reads
FILLS = {"token": None, "bar_step": (0, MAX_BAR_STEPS - 1), "bar_steps": (1, MAX_BAR_STEPS)}  # fill: default range
DTYPES = ("int32", "int64")


@dataclass(frozen=True)
class ModelInput:
    """One non-state input, shape [1, 1]: filled each step with ``fill`` clamped to ``low``..``high``."""

    name: str
    fill: str
    dtype: str = "int32"
    low: int = 0
    high: int = 2**31 - 1


TOKEN_ONLY = (ModelInput("token", "token"),)  # a version-1 model's inputs


@dataclass(frozen=True)
class StateTensor:
    """One recurrent state tensor: fed as ``input``, read back as ``output``; shape [1, size]."""

    input: str
    output: str
    size: int


@dataclass(frozen=True)
class Sidecar:
    name: str
    kind: str
    vocabulary: tuple[str, ...]
    steps_per_beat: int
    state: tuple[StateTensor, ...]
    inputs: tuple[ModelInput, ...] = TOKEN_ONLY
    logits_output: str = "logits"
    corpus: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    step_token: str | None = None  # a poly model's end-of-step token; None: one token per grid step

    @property
    def vocab(self) -> Vocabulary | PolyVocabulary:
        return PolyVocabulary(self.vocabulary) if self.step_token else Vocabulary(self.vocabulary)

    @property
    def model_kind(self) -> Kind:
        return KINDS[self.kind]

    @property
    def fills(self) -> tuple[str, ...]:
        """What the non-state inputs are filled with, in order (``("token",)`` for a v1 model)."""
        return tuple(i.fill for i in self.inputs)

    @property
    def outputs(self) -> tuple[str, ...]:
        """What the logits score, in id order: the input vocabulary, or a chord model's chord symbols.

        A ``chords`` model reads melody tokens (``vocabulary``) and scores ``extra["chords"]``.
        """
        return tuple(self.extra["chords"]) if self.model_kind.scores_chords else self.vocabulary

    def to_json(self) -> str:
        data = {"format": FORMAT, **asdict(self)}
        data["vocabulary"] = list(self.vocabulary)
        if data["step_token"] is None:
            del data["step_token"]
        data["inputs"] = [{"name": i.name, "dtype": i.dtype, "shape": [1, 1], "fill": i.fill,
                           **({"range": [i.low, i.high]} if FILLS[i.fill] else {})} for i in self.inputs]
        return json.dumps(data, indent=1)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")


def sidecar_path(onnx_path: Path) -> Path:
    """``models/folk.onnx`` -> ``models/folk.json``."""
    return Path(onnx_path).with_suffix(".json")


def load_sidecar(path: Path) -> Sidecar:
    """Read and check a sidecar; raise JamdError naming the file and the bad key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise JamdError(f"{path}: model sidecar not found (every .onnx needs its .json beside it)") from None
    except (OSError, ValueError) as e:
        raise JamdError(f"{path}: not a readable JSON sidecar ({e})") from None

    if not isinstance(data, dict):
        raise JamdError(f"{path}: a sidecar is a JSON object of keys, this is {type(data).__name__}; "
                        "re-export the model with jamd-train")

    def need(key, kind):
        if key not in data:
            raise JamdError(f"{path}: sidecar lacks key '{key}'; re-export the model with jamd-train")
        if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            raise JamdError(f"{path}: sidecar key '{key}' should be {kind.__name__}, got {data[key]!r:.60}")
        return data[key]

    if not isinstance(data, dict):
        raise JamdError(f"{path}: a sidecar is a JSON object (keys such as 'format', 'vocabulary'), "
                        f"got {type(data).__name__}; re-export the model with jamd-train")
    if data.get("format") not in FORMATS:
        raise JamdError(f"{path}: sidecar format is {data.get('format')!r}, this jamd reads {' or '.join(FORMATS)}")
    vocabulary = need("vocabulary", list)
    kind = need("kind", str)
    if kind not in KINDS:
        raise JamdError(f"{path}: kind is {kind!r}, expected one of {tuple(KINDS)}")
    step_token = None
    if KINDS[kind].polyphonic:
        step_token = data.get("step_token")
        if step_token != STEP or tuple(vocabulary[:2]) != ("start", STEP):
            raise JamdError(f"{path}: a poly model needs step_token 'step' and a vocabulary that begins "
                            "['start', 'step']; re-export it with jamd-train fit --kind poly")
    elif tuple(vocabulary[:3]) != SPECIAL_TOKENS or len(vocabulary) < 4:
        raise JamdError(f"{path}: vocabulary must start with {list(SPECIAL_TOKENS)} and hold pitch tokens")
    steps = need("steps_per_beat", int)
    if not 1 <= steps <= 24:
        raise JamdError(f"{path}: steps_per_beat is {steps}, expected 1 to 24")
    extra = data.get("extra", {})
    if KINDS[kind].scores_chords:
        chords = extra.get("chords") if isinstance(extra, dict) else None
        if not isinstance(chords, list) or not chords:
            raise JamdError(f"{path}: a chords model needs extra.chords, the list of chord symbols it scores; "
                            "re-export it with jamd-train fit-chords")
        bad = check_vocabulary([str(c) for c in chords])
        if bad:
            raise JamdError(f"{path}: extra.chords has unknown chord symbols {bad[:5]}; re-export the model")
    try:
        state = tuple(StateTensor(str(s["input"]), str(s["output"]), int(s["size"])) for s in need("state", list))
    except (KeyError, TypeError, ValueError):
        raise JamdError(f"{path}: each 'state' entry needs 'input', 'output' and 'size'") from None
    inputs = _inputs(path, data)
    for key in ("corpus", "training", "metrics", "extra"):
        if not isinstance(data.get(key, {}), dict):
            raise JamdError(f"{path}: sidecar key '{key}' should be an object, got {data[key]!r:.60}")
    return Sidecar(
        name=str(data.get("name", path.stem)),
        kind=kind,
        vocabulary=tuple(str(t) for t in vocabulary),
        steps_per_beat=steps,
        state=state,
        inputs=inputs,
        logits_output=str(data.get("logits_output", "logits")),
        corpus=data.get("corpus", {}),
        training=data.get("training", {}),
        metrics=data.get("metrics", {}),
        extra=extra,
        step_token=step_token,
    )


def _inputs(path: Path, data: dict) -> tuple[ModelInput, ...]:
    """The non-state inputs: v2's ``inputs`` list, or v1's single ``token_input``."""
    if data["format"] == "jamd-model/1":
        token = data.get("token_input", {})
        token = token if isinstance(token, dict) else {}
        inputs = [{"name": token.get("name", "token"), "dtype": token.get("dtype", "int32"), "fill": "token"}]
    else:
        inputs = data.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise JamdError(f"{path}: sidecar lacks 'inputs', the list of the model's inputs; "
                            "re-export the model with jamd-train")
    out = []
    for i, entry in enumerate(inputs):
        where = f"{path}: inputs[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise JamdError(f"{where} needs a 'name' and a 'fill'; re-export the model")
        fill, dtype = entry.get("fill"), entry.get("dtype", "int32")
        if fill not in FILLS:
            raise JamdError(f"{where} ('{entry['name']}') has fill {fill!r}; this jamd fills {tuple(FILLS)}: "
                            "upgrade jamd or re-export the model")
        if dtype not in DTYPES:
            raise JamdError(f"{where} ('{entry['name']}') has dtype {dtype!r}; expected one of {DTYPES}")
        low, high = FILLS[fill] or (0, 2**31 - 1)
        bounds = entry.get("range", [low, high])
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(type(b) is int for b in bounds)
                and bounds[0] <= bounds[1]):
            raise JamdError(f"{where} ('{entry['name']}') has range {bounds!r}; expected [low, high] integers")
        out.append(ModelInput(entry["name"], fill, dtype, bounds[0], bounds[1]))
    if [i.fill for i in out].count("token") != 1:
        raise JamdError(f"{path}: inputs must have exactly one input filled with 'token'")
    return tuple(out)
