"""training/: a tiny real training run, its ONNX export and parity check, the sidecar, generate, the CLI.

One small model is trained once per module (real kern fixtures, 1 epoch, 16 units) through
``jamd-train fit`` itself and shared by the tests that need an exported model.
"""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest

pytestmark = pytest.mark.train
pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")
pytest.importorskip("music21")

import onnxruntime as ort  # noqa: E402

from jamd.daemon.encoding import Vocabulary  # noqa: E402
from jamd.daemon.errors import JamdError  # noqa: E402
from jamd.daemon.sidecar import load_sidecar, sidecar_path  # noqa: E402
from jamd.training import cli  # noqa: E402
from jamd.training.corpus import EncodedSong, load_corpus, read_notes  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
KERN = sorted(str(p) for p in FIXTURES.glob("*.krn"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(onnx path, workdir) of a model fitted and exported by ``jamd-train fit`` on the kern fixtures.

    The settings come from a ``--config`` TOML file, except ``--units 16`` on the command line,
    which must win over the file's 32.
    """
    tmp = tmp_path_factory.mktemp("fit")
    config = tmp / "fit.toml"
    config.write_text(f"[fit]\ndata = {json.dumps(KERN)}\nname = \"tiny\"\noutput = \"{tmp / 'tiny.onnx'}\"\n"
                      f"workdir = \"{tmp / 'run'}\"\nepochs = 1\nunits = 32\nembedding = 8\nwindow = 64\n"
                      "val-fraction = 0.3\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JAMD_CACHE", str(tmp / "cache"))
        code = cli.main(["fit", "--config", str(config), "--units", "16"])
    assert code == 0
    return tmp / "tiny.onnx", tmp / "run"


def songs_of(paths, tmp_path) -> list[EncodedSong]:
    return load_corpus(paths, cache_dir=tmp_path / "cache", progress=False, workers=1).songs


def test_exported_onnx_model_gives_the_keras_logits_step_by_step(trained, tmp_path):
    from jamd.training import export, model as network

    onnx_path, workdir = trained
    side = load_sidecar(sidecar_path(onnx_path))
    assert side.metrics["parity_max_abs_logit_diff"] <= export.PARITY_TOLERANCE
    assert side.metrics["parity_steps"] > 50, "parity must run over a whole song, not a few steps"
    # Independently: a song the export did not check, through the best checkpoint and the ONNX file.
    config = network.ModelConfig(**side.training["model"])
    sequence = network.sequence_model(config)
    sequence.load_weights(workdir / "best.weights.h5")
    song = songs_of([KERN[0]], tmp_path)[0]
    ids = side.vocab.encode(song.tokens)
    assert export.parity(sequence, onnx_path, config, ids, song.positions()) <= export.PARITY_TOLERANCE


def test_sidecar_loads_and_names_exactly_the_onnx_inputs_and_outputs(trained):
    from jamd.daemon.model import load_model

    onnx_path, _ = trained
    for path in (onnx_path, sidecar_path(onnx_path)):
        assert path.stat().st_mode & 0o444 == 0o444, f"{path} must be readable by the daemon's service user"
    assert not list(onnx_path.parent.glob(".*.tmp")), "a temporary export file was left behind"
    side = load_sidecar(sidecar_path(onnx_path))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    assert set(inputs) == {"token", "bar_step", "bar_steps", "h", "c"} == {
        *(i.name for i in side.inputs), *(s.input for s in side.state)}
    assert side.fills == ("token", "bar_step", "bar_steps"), "contract v2: the bar position is an input"
    assert json.loads(sidecar_path(onnx_path).read_text())["format"] == "jamd-model/2"
    assert set(outputs) == {"logits", "h_out", "c_out"} == {side.logits_output, *(s.output for s in side.state)}
    assert inputs["token"].type == "tensor(int32)" and inputs["token"].shape == [1, 1]
    assert [s.size for s in side.state] == [16, 16] == [inputs["h"].shape[1], inputs["c"].shape[1]]
    assert outputs["logits"].shape == [1, len(side.vocabulary)]
    assert side.kind == "melody" and side.steps_per_beat == 4
    assert side.corpus["sources"] == KERN and side.corpus["settings"] == {"steps_per_beat": 4, "transpose": "none"}
    assert side.corpus["report"]["songs"] == 4  # kindr053 (triplets) is skipped by the corpus
    for key in ("val_loss_nats", "val_bits_per_step", "val_accuracy", "val_onset_accuracy", "epochs", "tokens_per_s"):
        assert key in side.metrics
    assert side.metrics["val_bits_per_step"] == pytest.approx(side.metrics["val_loss_nats"] / np.log(2), rel=1e-3)
    assert side.training["seed"] == 1 and side.training["val_fraction"] == 0.3
    # The daemon's own loader checks names and sizes against the graph and runs a first step.
    model = load_model(onnx_path)
    probs = model.step(model.vocab.id("60") if "60" in model.vocab else 3)
    assert probs.shape == (len(side.vocabulary),) and probs.sum() == pytest.approx(1.0)


def test_fit_writes_csv_log_plots_and_best_checkpoint(trained):
    _, workdir = trained
    rows = (workdir / "train.csv").read_text().splitlines()
    assert rows[0].split(",")[:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(rows) == 2  # header + the one epoch
    # Onset accuracy per epoch too: plain accuracy is mostly `hold`.
    assert {"onset_accuracy", "val_onset_accuracy"} <= set(rows[0].split(","))
    for name in ("loss.png", "accuracy.png", "onset_accuracy.png", "best.weights.h5"):
        assert (workdir / name).stat().st_size > 1000, name
    assert (workdir / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_validation_songs_are_held_out_whole_and_the_split_follows_the_seed(trained, tmp_path):
    from jamd.training.train import split_songs

    songs = songs_of([str(FIXTURES / "nottingham_jigs_1-3.abc"), *KERN], tmp_path)
    train, val = split_songs(songs, 0.3, seed=1)
    assert {s.name for s in train}.isdisjoint(s.name for s in val)
    assert sorted(s.name for s in train + val) == sorted(s.name for s in songs)
    assert abs(len(val) - round(len(songs) * 0.3)) <= 1
    assert split_songs(songs, 0.3, seed=1) == (train, val)
    assert any(split_songs(songs, 0.3, seed=s)[1] != val for s in range(2, 8))
    # The exported model names its held-out songs; they are exactly the seed's split.
    side = load_sidecar(sidecar_path(trained[0]))
    fit_songs = songs_of(KERN, tmp_path)
    assert side.training["validation_songs"] == [s.name for s in split_songs(fit_songs, 0.3, seed=1)[1]]


def test_near_duplicate_songs_land_on_one_side_of_the_split(tmp_path):
    """A song and its transposed copy (Essen holds such variants across subsets) are never split."""
    from dataclasses import replace

    from jamd.daemon.encoding import transpose_token
    from jamd.training.train import interval_key, split_songs

    songs = songs_of([str(FIXTURES / "nottingham_jigs_1-3.abc"), *KERN], tmp_path)
    copies = [replace(s, name=s.name + " (up a tone)", tokens=tuple(transpose_token(t, 2) for t in s.tokens))
              for s in songs]
    for seed in range(1, 12):
        train, val = split_songs(songs + copies, 0.3, seed)
        held = {interval_key(s.tokens) for s in val}
        assert held and held.isdisjoint(interval_key(s.tokens) for s in train), seed


def test_augmentation_only_moves_a_song_by_shifts_its_tokens_survive(tmp_path):
    from jamd.training.settings import TrainSettings
    from jamd.training.tasks import melody_task
    from jamd.training.train import allowed_shifts

    songs = songs_of(KERN, tmp_path)
    task = melody_task(songs, TrainSettings(shifts=(-2, 0, 3), val_fraction=0.3))
    for example in task.train:
        allowed = allowed_shifts(task, example, (-2, 0, 3))
        assert allowed[0] == 0 and set(allowed) <= {-2, 0, 3}
        for shift in allowed[1:]:
            moved = task.x_tables[shift][example.x]
            assert moved.shape == example.x.shape and moved.min() >= 0
            assert (moved == example.x)[example.x < 3].all(), "start/rest/hold never move"
            before = [int(task.vocab.tokens[i]) for i in example.x if i >= 3]
            after = [int(task.vocab.tokens[i]) for i in moved if i >= 3]
            assert {b - a for a, b in zip(before, after)} == {shift}
            assert (task.y_tables[shift][example.y][:-1] == moved[1:]).all(), "targets move with the inputs"


def test_multi_layer_model_exports_state_h0_c0_h1_c1_and_passes_parity(tmp_path):
    from jamd.training import model as network
    from jamd.training.export import export

    vocab = Vocabulary.build([("start", "60", "hold", "62", "rest", "64", "60.64")])
    config = network.ModelConfig(len(vocab), embedding=4, units=8, layers=2)
    song = ("start", "60", "hold", "62", "rest", "64", "hold", "60.64", "62", "hold") * 5
    where = np.stack([np.arange(len(song)) % 16, np.full(len(song), 16)], axis=1)
    side = export(network.sequence_model(config), config, vocab, song, tmp_path / "two.onnx", where,
                  name="two", steps_per_beat=4)
    assert [(s.input, s.output) for s in side.state] == [
        ("h0", "h0_out"), ("c0", "c0_out"), ("h1", "h1_out"), ("c1", "c1_out")]
    session = ort.InferenceSession(str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["token", "bar_step", "bar_steps", "h0", "c0", "h1", "c1"]
    assert load_sidecar(tmp_path / "two.json").state == side.state


def test_export_that_fails_parity_leaves_no_files_behind(tmp_path, monkeypatch):
    from jamd.training import model as network
    from jamd.training.export import export

    real_copy = network.copy_weights

    def corrupted(source, target):  # as if the step model got stale weights
        real_copy(source, target)
        layer = target.get_layer("logits")
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, bias + 0.01])

    monkeypatch.setattr(network, "copy_weights", corrupted)
    vocab = Vocabulary.build([("start", "60", "hold", "62", "rest", "64")])
    config = network.ModelConfig(len(vocab), embedding=4, units=8, position=False)
    with pytest.raises(JamdError, match="parity check failed.*nothing written"):
        export(network.sequence_model(config), config, vocab, ("start", "60", "hold", "62") * 10,
               tmp_path / "bad.onnx", name="bad", steps_per_beat=4)
    assert list(tmp_path.iterdir()) == []


def test_generate_writes_midi_that_begins_with_the_prime_then_the_continuation(trained, tmp_path, capsys):
    onnx_path, _ = trained
    prime = FIXTURES / "kindr001.krn"
    out = tmp_path / "out.mid"
    args = ["generate", str(onnx_path), "--prime", str(prime), "-o", str(out), "--prime-bars", "2", "--bars", "4",
            "--seed", "3"]
    assert cli.main(args) == 0
    assert "wrote" in capsys.readouterr().out
    midi = mido.MidiFile(str(out))
    assert len(midi.tracks) == 2 and midi.tracks[0].name.startswith("prime: ")
    played = [m.note for m in midi.tracks[0] if m.type == "note_on"]
    # kindr001 is in 2/4 with no pickup: its bars are 2 beats, and the file says so.
    assert [(m.numerator, m.denominator) for m in midi.tracks[0] if m.type == "time_signature"] == [(2, 4)]
    _, notes, _, _ = read_notes(prime)[0]
    begin = min(n.start for n in notes)
    first = [n.pitch for n in sorted(notes, key=lambda n: n.start) if n.start - begin < 2 * 2]
    assert played == first
    generated = [m for m in midi.tracks[1] if m.type == "note_on"]
    assert generated, "the model played nothing"
    beat = midi.ticks_per_beat
    assert generated[0].time >= 2 * 2 * beat, "the continuation starts after the 2 prime bars"
    assert sum(m.time for m in midi.tracks[1]) <= (2 + 4) * 2 * beat, "and lasts the 4 bars asked for"
    # Same seed, same file.
    again = tmp_path / "again.mid"
    assert cli.main(args[:5] + [str(again)] + args[6:]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_generate_finds_a_model_by_name_in_jamd_models(trained, tmp_path, monkeypatch):
    onnx_path, _ = trained
    monkeypatch.setenv("JAMD_MODELS", str(onnx_path.parent))
    out = tmp_path / "named.mid"
    assert cli.main(["generate", "tiny", "--prime", str(FIXTURES / "waltz_de_choco.mid"), "-o", str(out),
                     "--bars", "1", "--seed", "1"]) == 0
    assert mido.MidiFile(str(out)).length > 0


def test_user_mistakes_are_one_line_errors_with_exit_code_2(tmp_path, capsys):
    missing = tmp_path / "nowhere.krn"
    cases = [
        ["fit", str(missing), "--name", "x", "-o", str(tmp_path / "x.onnx")],
        ["fit", "--name", "x"],
        ["generate", str(tmp_path / "nope.onnx"), "--prime", str(FIXTURES / "kindr001.krn"), "-o", "x.mid"],
        ["generate", "folk", "-o", "x.mid"],
    ]
    for args in cases:
        assert cli.main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("jamd-train: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_config_file_supplies_flags_and_rejects_unknown_keys(trained, tmp_path, capsys):
    onnx_path, _ = trained
    config = tmp_path / "gen.toml"
    config.write_text(f'[generate]\nmodel = "{onnx_path}"\nprime = "{FIXTURES / "kindr183.krn"}"\n'
                      f'output = "{tmp_path / "c.mid"}"\nbars = 1\ntop-k = 3\nseed = 2\n')
    assert cli.main(["generate", "--config", str(config)]) == 0
    assert (tmp_path / "c.mid").exists()
    config.write_text("epoch = 3\n")
    assert cli.main(["fit", "--config", str(config)]) == 2
    assert "unknown key 'epoch'" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys):
    for command in ("fit", "generate"):
        with pytest.raises(SystemExit) as exit:
            cli.main([command, "--help"])
        assert exit.value.code == 0
        assert "--config" in capsys.readouterr().out


def test_same_seed_trains_the_same_weights(tmp_path):
    from jamd.training.settings import TrainSettings
    from jamd.training.tasks import melody_task
    from jamd.training.train import fit

    songs = songs_of(KERN, tmp_path)
    settings = TrainSettings(epochs=1, units=8, embedding=4, window=64, val_fraction=0.3, seed=5)
    first = fit(melody_task(songs, settings), settings, tmp_path / "a", verbose=0)
    second = fit(melody_task(songs, settings), settings, tmp_path / "b", verbose=0)
    assert first.metrics["val_loss_nats"] == second.metrics["val_loss_nats"]
    assert all(np.array_equal(a, b) for a, b in zip(first.model.get_weights(), second.model.get_weights()))
    from jamd.training.model import sequence_model
    from jamd.training.train import seed_everything

    seed_everything(6)
    other = sequence_model(first.config)
    assert not np.array_equal(first.model.get_weights()[0], other.get_weights()[0])


def test_a_long_fit_resumes_from_its_workdir(tmp_path, capsys):
    """Two sittings: one epoch, then --resume for a second, which goes on from the first's best weights."""
    args = ["fit", *KERN, "--name", "two", "-o", str(tmp_path / "two.onnx"), "--workdir", str(tmp_path / "run"),
            "--units", "8", "--embedding", "4", "--window", "64", "--val-fraction", "0.3"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JAMD_CACHE", str(tmp_path / "cache"))
        assert cli.main([*args, "--epochs", "1"]) == 0
        first = (tmp_path / "run" / "train.csv").read_text().splitlines()
        assert cli.main([*args, "--epochs", "2", "--resume"]) == 0
    assert "resuming" in capsys.readouterr().err
    rows = (tmp_path / "run" / "train.csv").read_text().splitlines()
    assert len(first) == 2 and len(rows) == 3 and rows[1] == first[1], "epoch 1 kept, epoch 2 added"
    assert load_sidecar(tmp_path / "two.json").metrics["epochs"] == 2
