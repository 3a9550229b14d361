"""Export the trained network as the daemon's single-step ONNX model, check it, write the sidecar.

The step model (token + state in, logits + state out) gets the sequence model's weights and is
converted by tf2onnx. Before anything is written, a whole validation song runs through the Keras
sequence model and through onnxruntime step by step with the state carried; any logit further
apart than ``PARITY_TOLERANCE`` fails the export and leaves no file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from jamd.daemon.encoding import Vocabulary
from jamd.daemon.errors import JamdError
from jamd.daemon.kinds import KINDS
from jamd.daemon.poly_encoding import STEP
from jamd.daemon.sidecar import FILLS, ModelInput, Sidecar, StateTensor, sidecar_path
from jamd.training import model as network
from jamd.training.tf import keras, tf

OPSET = 15  # onnxruntime >= 1.10 runs it; the native LSTM op has been stable since opset 14
PARITY_TOLERANCE = 1e-4  # logits, absolute


def convert(step: keras.Model, config: network.ModelConfig, path: Path) -> None:
    """tf2onnx ``step`` into ``path`` with inputs/outputs renamed to the contract names."""
    import onnx
    import tf2onnx

    names = network.state_names(config)
    signature = [tf.TensorSpec((1, 1), tf.int32, name=name) for name in ("token", *network.position_names(config))]
    signature += [tf.TensorSpec((1, config.units), tf.float32, name=name) for name, _ in names]
    proto, _ = tf2onnx.convert.from_keras(step, input_signature=signature, opset=OPSET)
    # tf2onnx names outputs after the Keras layers that made them; the contract wants fixed names.
    wanted = ["logits"] + [out for _, out in names]
    renames = {old.name: new for old, new in zip(proto.graph.output, wanted)}
    for node in proto.graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    for output in proto.graph.output:
        output.name = renames[output.name]
    proto.doc_string = "jamd single-step LSTM: token (+ bar position) + state in, logits + state out"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def onnx_logits(path: Path, config: network.ModelConfig, ids: Sequence[int],
                positions: np.ndarray | None = None) -> np.ndarray:
    """Logits [len(ids), V] from the ONNX file, one step per id (and its ``positions`` row, [len(ids), 2],
    for a model told the bar position) with the state carried (starts at 0)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = network.state_names(config)
    state = {name: np.zeros((1, config.units), np.float32) for name, _ in names}
    outputs = ["logits"] + [out for _, out in names]
    rows = []
    for i, token in enumerate(ids):
        feeds = {"token": np.array([[token]], np.int32)}
        for column, name in enumerate(network.position_names(config)):
            feeds[name] = np.array([[positions[i, column]]], np.int32)
        logits, *new = session.run(outputs, {**feeds, **state})
        rows.append(logits[0])
        state = {name: value for (name, _), value in zip(names, new)}
    return np.stack(rows)


def parity(sequence: keras.Model, path: Path, config: network.ModelConfig, ids: Sequence[int],
           positions: np.ndarray | None = None) -> float:
    """Largest absolute logit difference between Keras (whole sequence) and ONNX (step by step)."""
    inputs = [np.asarray([ids], np.int32)]
    inputs += [np.asarray([positions[:, c]], np.int32) for c in range(len(network.position_names(config)))]
    expected = sequence(inputs, training=False).numpy()[0]
    return float(np.abs(expected - onnx_logits(path, config, ids, positions)).max())


def export(
    sequence: keras.Model,
    config: network.ModelConfig,
    vocab: Vocabulary,
    check_song: Sequence[str],
    out: Path,
    check_positions: np.ndarray | None = None,
    *,
    name: str,
    steps_per_beat: int,
    kind: str = "melody",
    corpus: dict | None = None,
    training: dict | None = None,
    metrics: dict | None = None,
    extra: dict | None = None,
) -> Sidecar:
    """Write ``out`` (.onnx) and its sidecar beside it, atomically, after the parity check on ``check_song``.

    ``check_song``: the tokens of one held-out song (input tokens: melody for a chord model);
    ``check_positions``: its bar positions, [len(check_song), 2], for a model told them.
    ``extra``: kind-specific sidecar data (a chord model's ``chords`` vocabulary). Raises
    JamdError (and writes nothing) if the conversion fails or the parity check does.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise JamdError(f"{out}: the model file must end in .onnx (its sidecar goes beside it as .json)")
    out.parent.mkdir(parents=True, exist_ok=True)
    step = network.step_model(config)
    network.copy_weights(sequence, step)
    sidecar = Sidecar(
        name=name,
        kind=kind,
        vocabulary=vocab.tokens,
        steps_per_beat=steps_per_beat,
        state=tuple(StateTensor(i, o, config.units) for i, o in network.state_names(config)),
        inputs=(ModelInput("token", "token"),) + tuple(
            ModelInput(name, name, "int32", *FILLS[name]) for name in network.position_names(config)),
        logits_output="logits",
        corpus=corpus or {},
        training={**(training or {}), "model": config.to_dict()},
        metrics=dict(metrics or {}),
        extra=dict(extra or {}),
        step_token=STEP if KINDS[kind].polyphonic else None,
    )
    tmp_onnx = _temp_beside(out)
    tmp_json = _temp_beside(sidecar_path(out))
    try:
        convert(step, config, tmp_onnx)
        ids = vocab.encode(check_song)
        worst = parity(sequence, tmp_onnx, config, ids, check_positions)
        if not worst <= PARITY_TOLERANCE:
            raise JamdError(f"{out}: export parity check failed: ONNX and Keras logits differ by up to {worst:.2g} "
                            f"(allowed {PARITY_TOLERANCE}) over a {len(ids)}-step validation song; nothing written")
        sidecar.metrics["parity_max_abs_logit_diff"] = float(f"{worst:.3g}")
        sidecar.metrics["parity_steps"] = len(ids)
        sidecar.save(tmp_json)
        os.replace(tmp_json, sidecar_path(out))
        os.replace(tmp_onnx, out)
    except Exception as e:
        for tmp in (tmp_onnx, tmp_json):
            tmp.unlink(missing_ok=True)
        if isinstance(e, JamdError):
            raise
        raise JamdError(f"{out}: ONNX export failed ({type(e).__name__}: {str(e)[:200]}); nothing written") from e
    return sidecar


def _temp_beside(path: Path) -> Path:
    """A fresh temporary file name in ``path``'s directory, so the final rename is atomic."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600); a model must stay readable by the daemon's own
    # user (systemd runs jamd as a service user), so give it the usual 0644.
    os.fchmod(fd, 0o644)
    os.close(fd)
    return Path(name)
