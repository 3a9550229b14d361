"""The model sidecar: the JSON file beside each ``.onnx`` that tells the daemon how to run it.

Written by ``training/export.py``, read by the daemon. Format ``jamd-model/1``::

    {
      "format": "jamd-model/1",
      "name": "folk",
      "kind": "melody",                      # or "chords"
      "vocabulary": ["start", "rest", "hold", "60", ...],
      "steps_per_beat": 4,                   # grid steps per quarter note
      "token_input": {"name": "token", "shape": [1, 1], "dtype": "int32"},
      "logits_output": "logits",
      "state": [{"input": "h", "output": "h_out", "size": 256},
                {"input": "c", "output": "c_out", "size": 256}],
      "corpus": {...}, "training": {...}, "metrics": {...},
      "extra": {...}                         # kind "chords": {"chords": ["N", "C", "Cm", ...], ...}
    }

A ``chords`` model reads melody tokens (``vocabulary``) and its logits score the chord
symbols of ``extra.chords`` (``daemon/chords.py``), one chord per beat.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from daemon.chords import check_vocabulary
from daemon.encoding import SPECIAL_TOKENS, Vocabulary
from daemon.errors import JamdError

FORMAT = "jamd-model/1"
KINDS = ("melody", "chords")
TOKEN_DTYPES = ("int32", "int64")  # what daemon/model.py can feed


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
    token_input: dict = field(default_factory=lambda: {"name": "token", "shape": [1, 1], "dtype": "int32"})
    logits_output: str = "logits"
    corpus: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary(self.vocabulary)

    @property
    def outputs(self) -> tuple[str, ...]:
        """What the logits score, in id order: the input vocabulary, or a chord model's chord symbols.

        A ``chords`` model reads melody tokens (``vocabulary``) and scores ``extra["chords"]``.
        """
        return tuple(self.extra["chords"]) if self.kind == "chords" else self.vocabulary

    def to_json(self) -> str:
        data = {"format": FORMAT, **asdict(self)}
        data["vocabulary"] = list(self.vocabulary)
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

    if data.get("format") != FORMAT:
        raise JamdError(f"{path}: sidecar format is {data.get('format')!r}, this jamd reads {FORMAT!r}")
    vocabulary = need("vocabulary", list)
    if tuple(vocabulary[:3]) != SPECIAL_TOKENS or len(vocabulary) < 4:
        raise JamdError(f"{path}: vocabulary must start with {list(SPECIAL_TOKENS)} and hold pitch tokens")
    kind = need("kind", str)
    if kind not in KINDS:
        raise JamdError(f"{path}: kind is {kind!r}, expected one of {KINDS}")
    steps = need("steps_per_beat", int)
    if not 1 <= steps <= 24:
        raise JamdError(f"{path}: steps_per_beat is {steps}, expected 1 to 24")
    extra = data.get("extra", {})
    if kind == "chords":
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
    token_input = data.get("token_input", {"name": "token", "shape": [1, 1], "dtype": "int32"})
    if not (isinstance(token_input, dict) and isinstance(token_input.get("name"), str)
            and token_input.get("dtype", "int32") in TOKEN_DTYPES):
        raise JamdError(f"{path}: sidecar key 'token_input' should be like {{\"name\": \"token\", \"dtype\": "
                        f"\"int32\"}} (dtype one of {', '.join(TOKEN_DTYPES)}), got {token_input!r:.60}")
    for key in ("corpus", "training", "metrics", "extra"):
        if not isinstance(data.get(key, {}), dict):
            raise JamdError(f"{path}: sidecar key '{key}' should be an object, got {data[key]!r:.60}")
    return Sidecar(
        name=str(data.get("name", path.stem)),
        kind=kind,
        vocabulary=tuple(str(t) for t in vocabulary),
        steps_per_beat=steps,
        state=state,
        token_input=token_input,
        logits_output=str(data.get("logits_output", "logits")),
        corpus=data.get("corpus", {}),
        training=data.get("training", {}),
        metrics=data.get("metrics", {}),
        extra=extra,
    )
