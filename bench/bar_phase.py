"""Where is bar 1? The bar phase jamd infers from a freely played phrase, against the song's own bars.

For each held-out song (the model's own validation songs by default, or any files), the first
``--beats`` beats from its first note are played as a player would on jamd's internal clock: the
grid starts on the first note, so a song with a pickup starts off the downbeat. ``jamd.daemon.phase``
then picks the eighth of the bar under which the model finds the phrase likeliest. Printed: the share of songs
whose downbeat it finds, beside the baseline that takes the first note as the downbeat, for all
songs and for those with a pickup. Asserts nothing.

    .venv/bin/python bench/bar_phase.py [--model folk] [--beats 8] [DATA...]
"""

from __future__ import annotations

import argparse

from jamd.daemon.model import load_model
from jamd.daemon.phase import likeliest_origin
from jamd.training.corpus import load_corpus
from jamd.training.evaluate import model_split


def phrase(song, beats: int, steps_per_beat: int):
    """(ids of the first ``beats`` beats from the first note, the true downbeat mod the bar, bar steps)."""
    n = beats * steps_per_beat
    bar = next(b for b in song.bars if b.start <= song.first < b.start + b.length)
    return song.tokens[1: 1 + n], (bar.start - song.first) % bar.length, bar.length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="*", help="songs to use (default: the model's held-out songs)")
    parser.add_argument("--model", default="folk")
    parser.add_argument("--beats", type=int, default=8, help="beats of each song played (default 8)")
    parser.add_argument("--limit", type=int, default=300, help="at most this many songs (default 300)")
    args = parser.parse_args()
    model = load_model(args.model)
    spb = model.steps_per_beat
    songs = load_corpus(args.data).songs if args.data else model_split(model)[1]
    songs = [s for s in songs if s.bars and len(s.tokens) > args.beats * spb][: args.limit]
    found = baseline = pickups = found_pickup = 0
    for song in songs:
        tokens, truth, bar_steps = phrase(song, args.beats, spb)
        if bar_steps % spb:
            continue
        ids = model.vocab.encode(tokens)
        origin, _ = likeliest_origin(model, ids, 0, bar_steps, max(1, spb // 2), 0)
        found += origin == truth
        baseline += truth == 0
        if truth:
            pickups += 1
            found_pickup += origin == truth
    n = len(songs)
    print(f"{model.name}, {n} songs, first {args.beats} beats played freely (grid from the first note):")
    print(f"| | downbeat found |\n| --- | --- |\n| jamd (jamd.daemon.phase) | {found / n:.1%} |")
    print(f"| first note = downbeat | {baseline / n:.1%} |")
    print(f"| songs with a pickup ({pickups}): jamd | {found_pickup / max(1, pickups):.1%} (baseline 0%) |")


if __name__ == "__main__":
    main()
