"""The polyphonic model's training half: real pieces -> PolySongs -> a tiny fit -> an ONNX model jamd plays."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

pytestmark = pytest.mark.train
pytest.importorskip("tensorflow")
pytest.importorskip("music21")

from jamd.daemon import poly_encoding as poly  # noqa: E402
from jamd.daemon.metre import Bar  # noqa: E402
from jamd.training.poly_data import PolySong, load_poly  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
PIECES = [str(FIXTURES / "bwv66.6.musicxml"), str(FIXTURES / "waltz_de_choco.mid"),
          str(FIXTURES / "nottingham" / "ashover1.mid"), str(FIXTURES / "nottingham" / "chords" / "jigs218.mid")]


def test_each_token_is_fed_the_bar_position_of_the_step_the_next_token_belongs_to():
    # Step 0 strikes C and E; step 1 holds; step 2 ends them. A 2-step bar from step 0.
    song = PolySong("x", ("start", "on:64", "on:60", "step", "step", "off:64", "off:60", "step"), None, 0,
                    (Bar(0, 2), Bar(2, 2)))
    assert song.positions()[:, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 1]


def test_every_part_of_a_piece_is_read_and_notes_last_on_their_own(tmp_path, monkeypatch):
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path))
    songs, skipped, _ = load_poly(PIECES[:3], progress=False, workers=1)
    assert not skipped and len(songs) == 3
    chorale = songs[0]
    notes = poly.decode(chorale.tokens)
    starts = {}
    for n in notes:
        starts.setdefault(n.start, []).append(n)
    assert max(len(v) for v in starts.values()) == 4, "the chorale's four voices did not sound together"
    # The jig's chord track holds its chords under the moving melody: some note outlasts the next onset.
    jig = poly.decode(songs[2].tokens)
    onsets = sorted({n.start for n in jig})
    assert any(next((t for t in onsets if t > n.start), np.inf) < n.start + n.duration for n in jig)
    again, _, _ = load_poly(PIECES[:3], progress=False, workers=1)  # from the cache now
    assert [s.tokens for s in again] == [s.tokens for s in songs]


def test_a_tiny_poly_model_trains_exports_and_harmonizes_in_the_daemon(tmp_path, monkeypatch):
    from jamd.daemon.config import Config
    from jamd.daemon.engine import Engine
    from jamd.daemon.model import load_model
    from jamd.daemon.offline import simulate
    from jamd.training import cli

    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "tinypoly.onnx"
    code = cli.main(["fit", "--kind", "poly", "music21:bach/bwv66.6", *PIECES[1:], "-o", str(out), "--workdir", str(tmp_path / "run"),
                     "--epochs", "1", "--units", "16", "--embedding", "8", "--val-fraction", "0.3", "--seed", "2"])
    assert code == 0
    model = load_model(out)
    assert model.sidecar.kind == "poly" and model.sidecar.step_token == "step"
    assert model.vocab.tokens[:2] == ("start", "step") and len(model.vocab) == 178
    prior = model.sidecar.extra["degree_chords"]  # harmonize's: the training chorales' chords per degree
    assert model.sidecar.training["validation_songs"] == [PIECES[3]], "seed 2 holds out the jig"
    assert prior["chorales"] == 1, "the prior counts the chorale trained on"
    minor_beats = sum(sum(c.values()) for c in prior["minor"].values())  # bwv66.6 is in F# minor
    assert minor_beats > 30 and not prior["major"], prior
    engine = Engine(Config(mode="harmonize", tempo=120.0, beats_per_bar=4), model, np.random.default_rng(0))
    melody = [(i * 0.5, i * 0.5 + 0.45, p) for i, p in enumerate([67, 69, 71, 72, 71, 69, 67, 67])]
    events = sorted([(s, mido.Message("note_on", note=p, velocity=80)) for s, _, p in melody]
                    + [(e, mido.Message("note_off", note=p)) for _, e, p in melody], key=lambda e: e[0])
    sent = simulate(engine, events, 6.0)
    voices = [m for _, m in sent if m.type == "note_on" and m.velocity > 0 and m.channel == 1]
    assert voices and all(m.note < 72 for m in voices), "no voices, or a voice above the melody"
