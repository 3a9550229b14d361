"""Which files a corpus source names: a file, a directory searched recursively, a glob, or a
``music21:<path|glob>`` name from the corpus bundled with music21 (no download needed)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from jamd.daemon.errors import JamdError
from jamd.training import readers

MUSIC21_PREFIX = "music21:"


def _unsupported(what: str) -> JamdError:
    formats = " ".join(readers.SUFFIXES)
    return JamdError(f"{what}; jamd reads {formats} files, directories of them, or music21:<name>")


def resolve(source: str | Path) -> list[tuple[Path, str]]:
    """The files of one source as ``(path, song name prefix)``, sorted; JamdError if none."""
    text = str(source)
    if text.startswith(MUSIC21_PREFIX):
        return _resolve_music21(text[len(MUSIC21_PREFIX):])
    if any(c in text for c in "*?["):  # a glob, e.g. the full Nottingham files without melody/ and chords/
        import glob

        found = sorted(Path(p) for p in glob.glob(text) if Path(p).suffix.lower() in readers.SUFFIXES)
        if not found:
            raise _unsupported(f"{text}: no score files match this pattern")
        return [(p, p.as_posix()) for p in found]
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() not in readers.SUFFIXES:
            raise _unsupported(f"{path}: not a score file")
        return [(path, path.as_posix())]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in readers.SUFFIXES and p.is_file())
        if not found:
            raise _unsupported(f"{path}: no score files in this directory")
        return [(p, p.as_posix()) for p in found]
    raise JamdError(f"{path}: no such file or directory (give corpus files, directories or music21:<name>)")


def _resolve_music21(spec: str) -> list[tuple[Path, str]]:
    """``music21:bach`` (a composer/folder), ``music21:essenFolksong/kinder0.abc``,
    ``music21:bach/bwv66.6`` (music21's name for a work) or a glob like ``music21:bach/bwv2*``."""
    from music21 import corpus

    root = Path(corpus.__file__).parent
    if any(c in spec for c in "*?["):
        found = [p for p in corpus.getPaths() if fnmatch.fnmatch(p.relative_to(root).as_posix(), spec)]
    elif (root / spec).is_dir():
        found = list((root / spec).rglob("*"))
    elif (root / spec).is_file():
        found = [root / spec]
    else:
        found = list(corpus.getComposer(spec)) or _work_paths(corpus, spec)
    found = sorted(Path(p) for p in found if Path(p).suffix.lower() in readers.SUFFIXES)
    if not found:
        raise _unsupported(f"music21:{spec}: nothing of that name in music21's corpus")
    return [(p, MUSIC21_PREFIX + p.relative_to(root).as_posix()) for p in found]


def _work_paths(corpus, spec: str) -> list:
    """music21's own lookup for names without an extension, like ``bach/bwv66.6``."""
    try:
        found = corpus.getWork(spec)
    except Exception:  # noqa: BLE001 -- music21 raises CorpusException or others for unknown names
        return []
    return list(found) if isinstance(found, list) else [found]
