"""jamd's training half: corpora -> grid tokens -> Keras LSTM -> single-step ONNX + sidecar."""
