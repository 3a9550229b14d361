"""The key jamd hears in a melody, note by note, against the key of real chorales' scores."""

from music21 import corpus

from jamd.daemon.encoding import REST_ID
from jamd.daemon.harmony import key_of
from jamd.daemon.modes import Player
from jamd.training.harmonize_report import chorale

CHORALES = 40


def test_the_key_heard_in_a_chorale_melody_is_mostly_the_scores():
    # Played one note at a time, as harmonize hears a melody. Aarden-Essen profiles: 64% of these
    # sopranos' notes; the Krumhansl-Kessler profiles jamd used before: 46%.
    names = sorted(p.name for p in corpus.getComposer("bach") if p.suffix == ".mxl")[:CHORALES]
    right = notes = 0
    for name in names:
        parts, tonic, minor, _ = chorale("music21:bach/" + name)
        player = Player()
        for note in parts[0]:
            player.hear(REST_ID + 1, {note.pitch}, set())  # any token but rest: a note started
            right += key_of(player.counts) == (tonic, minor)
            notes += 1
    assert notes > 1000
    assert right / notes >= 0.55, f"key heard right on {right / notes:.1%} of {notes} soprano notes"
