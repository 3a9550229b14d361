"""A real single-step ONNX model with constant logits, for checking evaluation arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from jamd.daemon.encoding import Vocabulary
from jamd.daemon.sidecar import Sidecar, StateTensor

STATE = 4


def constant_logits_model(directory: Path, vocab: Vocabulary, logits: np.ndarray, **sidecar) -> Path:
    """A real single-step ONNX model with the daemon's interface whose logits never change.

    The token picks a row of an embedding whose rows are all ``logits``; the state passes
    through untouched. Written with its sidecar beside it, as export does.
    """
    from onnx import TensorProto, helper, numpy_helper

    size = len(vocab)
    table = np.tile(logits.astype(np.float32), (size, 1))
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "token"], ["rows"], axis=0),
            helper.make_node("Reshape", ["rows", "shape"], ["logits"]),
            helper.make_node("Identity", ["h"], ["h_out"]),
        ],
        "constant_logits",
        [helper.make_tensor_value_info("token", TensorProto.INT32, [1, 1]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, STATE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, size]),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, STATE])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([1, size], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    path = directory / "constant.onnx"
    onnx.save(model, path)
    Sidecar(name="constant", kind="melody", vocabulary=vocab.tokens, steps_per_beat=4,
            state=(StateTensor("h", "h_out", STATE),), **sidecar).save(path.with_suffix(".json"))
    return path
