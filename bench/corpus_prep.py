"""How long preparing a corpus takes cold (empty cache) and warm (second run), side by side.

    .venv/bin/python bench/corpus_prep.py [SOURCE ...] [--workers N] [--steps-per-beat S]

Default source: the whole Essen deutschl corpus in ../shared/data. The cache lives in a
temporary directory, so your ~/.cache is neither used nor touched.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from jamd.training.corpus import load_corpus

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "essen-kern" / "deutschl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", default=[str(DEFAULT)])
    parser.add_argument("--workers", type=int, default=None, help="parsing processes (default: all cores)")
    parser.add_argument("--steps-per-beat", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jamd-corpus-bench-") as cache:
        times = []
        for run in ("cold", "warm"):
            began = time.perf_counter()
            corpus = load_corpus(args.sources, steps_per_beat=args.steps_per_beat, workers=args.workers,
                                 cache_dir=Path(cache))
            times.append(time.perf_counter() - began)
            print(f"{run}: {times[-1]:.2f} s for {len(corpus.songs)} songs")
    print(f"cold/warm ratio: {times[0] / times[1]:.1f}x")
    print(json.dumps(corpus.report(), indent=1))


if __name__ == "__main__":
    main()
