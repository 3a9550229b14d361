"""The network, and nothing else: token (+ bar position) embedding -> LSTM layer(s) -> dense logits.

One definition, two shapes. ``sequence_model`` reads whole windows (batch, time) and is what
``train.py`` fits. ``step_model`` reads one token and the recurrent state as explicit tensors
and returns the next-token logits and the new state: what the daemon runs, one call per grid
step. Both are built by ``_layers`` (same layer names and sizes) and the step model takes the
sequence model's weights by layer name (``copy_weights``), so they cannot drift apart.

With ``position`` (contract ``jamd-model/2``) each token comes with the bar position of the step
that follows it (``daemon/metre.py``): ``bar_step`` and ``bar_steps``, each embedded and
concatenated to the token's embedding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from jamd.daemon.metre import MAX_BAR_STEPS, POSITION_INPUTS
from jamd.training.tf import keras


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the network. ``vocab_size`` tokens in (and out); ``units`` per LSTM layer.

    ``outputs``: logits width when it differs from the input vocabulary (the chord model reads
    melody tokens and scores chords); 0 = ``vocab_size``.
    """

    vocab_size: int
    embedding: int = 64
    units: int = 256
    layers: int = 1
    outputs: int = 0
    position: bool = True  # bar_step and bar_steps inputs (jamd-model/2); False: token only (v1)
    position_embedding: int = 16  # each of bar_step and bar_steps
    dropout: float = 0.0  # on the LSTM's input and output while training (none in the step model)

    @property
    def output_size(self) -> int:
        return self.outputs or self.vocab_size

    def to_dict(self) -> dict:
        return asdict(self)


def state_names(config: ModelConfig) -> list[tuple[str, str]]:
    """(input, output) names of the state tensors, in order: h, c for one layer, h0, c0, h1, ... else."""
    if config.layers == 1:
        return [("h", "h_out"), ("c", "c_out")]
    names = []
    for i in range(config.layers):
        names += [(f"h{i}", f"h{i}_out"), (f"c{i}", f"c{i}_out")]
    return names


def position_names(config: ModelConfig) -> tuple[str, ...]:
    """Names of the position inputs, in order (none for a v1 model)."""
    return POSITION_INPUTS if config.position else ()


def _embedded(config: ModelConfig, token, positions: list):
    """The token's embedding, with each position input's embedding concatenated to it."""
    x = keras.layers.Embedding(config.vocab_size, config.embedding, name="embedding")(token)
    if not config.position:
        return x
    # bar_step is 0..MAX-1 and bar_steps 1..MAX: one table each, MAX + 1 rows.
    parts = [x] + [keras.layers.Embedding(MAX_BAR_STEPS + 1, config.position_embedding, name=f"{name}_embedding")(p)
                   for name, p in zip(POSITION_INPUTS, positions)]
    return keras.layers.Concatenate(name="with_position")(parts)


def _layers(config: ModelConfig, *, step: bool) -> tuple[list, keras.layers.Layer]:
    # The step model needs the state out; the sequence model needs every time step out.
    lstms = [
        keras.layers.LSTM(config.units, return_sequences=not step, return_state=step, name=f"lstm{i}")
        for i in range(config.layers)
    ]
    dense = keras.layers.Dense(config.output_size, name="logits")
    return lstms, dense


def sequence_model(config: ModelConfig) -> keras.Model:
    """Ids [batch, time] (int32), and with ``position`` bar_step and bar_steps [batch, time] ->
    logits [batch, time, output_size] for what follows each step."""
    lstms, dense = _layers(config, step=False)
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    positions = [keras.Input(shape=(None,), dtype="int32", name=n) for n in position_names(config)]
    x = _embedded(config, tokens, positions)
    for lstm in lstms:
        if config.dropout:
            x = keras.layers.Dropout(config.dropout)(x)
        x = lstm(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout)(x)
    return keras.Model([tokens, *positions], dense(x), name="jamd_sequence")


def step_model(config: ModelConfig) -> keras.Model:
    """One step: token [1, 1] int32 (and the position inputs, each [1, 1] int32) and state [1, units]
    each -> logits [1, output_size] and the new state.

    Inputs are ``token``, the ``position_names``, then the state names of ``state_names``;
    outputs ``logits`` then the state outputs, in the same order.
    """
    lstms, dense = _layers(config, step=True)
    token = keras.Input(batch_size=1, shape=(1,), dtype="int32", name="token")
    positions = [keras.Input(batch_size=1, shape=(1,), dtype="int32", name=n) for n in position_names(config)]
    states = [keras.Input(batch_size=1, shape=(config.units,), name=name) for name, _ in state_names(config)]
    x = _embedded(config, token, positions)
    new_states = []
    for i, lstm in enumerate(lstms):
        out, h, c = lstm(x, initial_state=[states[2 * i], states[2 * i + 1]])
        new_states += [h, c]
        # The next layer reads a sequence of one step.
        x = keras.layers.Reshape((1, config.units), name=f"as_sequence{i}")(out) if i + 1 < len(lstms) else out
    logits = dense(x)
    return keras.Model([token, *positions, *states], [logits, *new_states], name="jamd_step")


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Give ``target`` the weights of ``source``, layer by layer name (embedding, lstm0.., logits)."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
