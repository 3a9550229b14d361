"""jamd's real-time half: MIDI in, one ONNX LSTM step per grid step, MIDI out.

Imports only numpy, onnxruntime, mido and python-rtmidi, so it runs on a Raspberry Pi.
"""
