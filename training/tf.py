"""The one place training imports TensorFlow from, so the Keras flavour is chosen once.

``TF_USE_LEGACY_KERAS=1`` makes ``tf.keras`` the tf-keras 2 package instead of Keras 3.
tf2onnx turns a tf-keras LSTM into one native ONNX ``LSTM`` op; from Keras 3 it gets a
``Loop`` over the cell. Measured once here (onnxruntime 1.32, 1 intra-op thread, opset 15,
embedding 64 + LSTM-256, vocabulary 60, 2,000 carried steps, 2026-11-23): tf-keras native
LSTM median 0.038 ms/step (p99 0.084) vs Keras 3 Loop 0.079 ms/step (p99 0.125): 2.1x.
The variable must be set before TensorFlow is first imported: import ``tf``/``keras`` from
here, never ``tensorflow`` directly.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # oneDNN/CUDA banners are not the user's problem

import tensorflow as tf  # noqa: E402

keras = tf.keras

__all__ = ["tf", "keras"]
