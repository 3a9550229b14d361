"""The figures ``jamd-train audition`` reports per mode, their targets (issue 13) and the table.

Each figure is a row: what a player hears, then jamd's value, the real music's and a simple
baseline's where they mean something, and the target. Shares print as percentages;
``changes_per_bar`` and ``distinct_chords`` are averages; ``two_chords_or_fewer`` prints as a
count of tunes.
"""

from __future__ import annotations

# name: (what a player hears, format); format "%" share, "x" average, "n" count of tunes
FIGURES = {
    "in_key": ("notes in the tune's key", "%"),
    "interval_repeat": ("repeated-note intervals", "%"),
    "interval_step": ("intervals of 1-2 semitones", "%"),
    "interval_skip": ("intervals of 3-4 semitones", "%"),
    "interval_leap": ("intervals of 5-7 semitones", "%"),
    "interval_large": ("intervals of 8+ semitones", "%"),
    "onsets_on_beats": ("onsets on a beat", "%"),
    "answered_legato": ("phrases answered (legato)", "%"),
    "answered_detached": ("phrases answered (detached)", "%"),
    "starts_on_beat_legato": ("answer starts on a beat, phrase legato", "%"),
    "starts_on_beat_detached": ("answer starts on a beat, phrase detached", "%"),
    "ends_on_tonic_triad": ("answer ends on a tonic-triad note", "%"),
    "dissonant_at_onsets": ("dissonant with the player at jamd's onsets (2nds, 7ths, tritone)", "%"),
    "dissonant_on_beats": ("dissonant with the player on beats", "%"),
    "shadowing": ("within 2 semitones of the player's note", "%"),
    "plays_before_player": ("runs where jamd plays before the player's first note", "%"),
    "next_correct": ("guess = the tune's actual next note", "%"),
    "next_guessed": ("player notes followed by a guess by their next note", "%"),
    "over_held_note": ("guesses sounding over a note the player holds", "%"),
    "dissonant_with_held": ("guesses dissonant with the note the player holds", "%"),
    "changes_per_bar": ("chord changes per bar", "x"),
    "changes_on_bar_lines": ("chord changes on a bar line", "%"),
    "chord_agreement": ("per-beat chord = the chord track", "%"),
    "distinct_chords": ("distinct chords per tune", "x"),
    "two_chords_or_fewer": ("tunes left on two chords or fewer", "n"),
}

INTERVALS = ["interval_repeat", "interval_step", "interval_skip", "interval_leap", "interval_large"]
ROWS = {
    "respond": ["in_key", *INTERVALS, "onsets_on_beats", "ends_on_tonic_triad", "answered_legato",
                "starts_on_beat_legato", "answered_detached", "starts_on_beat_detached"],
    "duet": ["in_key", "dissonant_at_onsets", "dissonant_on_beats", "shadowing", "plays_before_player",
             *INTERVALS, "onsets_on_beats"],
    "next": ["next_correct", "next_guessed", "over_held_note", "dissonant_with_held", "in_key", *INTERVALS],
    "chords": ["changes_per_bar", "changes_on_bar_lines", "chord_agreement", "distinct_chords", "two_chords_or_fewer"],
}
BASELINES = {
    "duet": "random in-key notes, jamd's rhythm",
    "next": "in-song bigram",
    "chords": "the key's tonic chord on every beat",
}
# Issue 13's targets on held-out tunes. "real": a multiple of the real music's figure.
TARGETS = {
    "respond in_key": (">=", 0.95), "respond interval_repeat": ("<=", 0.25),
    "respond ends_on_tonic_triad": (">=", 0.65), "respond starts_on_beat_legato": (">=", 0.90),
    "respond starts_on_beat_detached": (">=", 0.90),
    "duet dissonant_at_onsets": ("<=", 0.20), "duet dissonant_on_beats": ("<=", 0.20),
    "next next_correct": (">=", 0.45), "next dissonant_with_held": ("<=", 0.15),
    "chords changes_per_bar": ("within", (0.7, 1.3)), "chords changes_on_bar_lines": (">=", 0.55),
    "chords chord_agreement": (">=", 0.58), "chords two_chords_or_fewer": ("<=", 0.05),
}


def _met(target, value, real) -> bool | None:
    if target is None or value is None:
        return None
    op, bound = target
    if op == "within":
        return None if not real else bound[0] * real <= value <= bound[1] * real
    return value >= bound if op == ">=" else value <= bound


def figures_for(mode: str, values: dict[str, dict], counts: dict[str, dict]) -> list[dict]:
    """One dict per row of ``mode``: name, what, jamd/real/baseline values and counts, target, met."""
    rows = []
    for name in ROWS[mode]:
        target = TARGETS.get(f"{mode} {name}")
        row = {"name": name, "what": FIGURES[name][0]}
        for side in ("jamd", "real", "baseline"):
            row[side] = values.get(side, {}).get(name)
            row[f"{side}_counts"] = counts.get(side, {}).get(name)
        row["baseline_is"] = BASELINES.get(mode) if row["baseline"] is not None else None
        row["target"] = list(target) if target else None
        row["met"] = _met(target, row["jamd"], row["real"])
        rows.append(row)
    return rows


def _cell(value, kind: str, tunes: int) -> str:
    if value is None:
        return "-"
    if kind == "%":
        return f"{value:.0%}"
    if kind == "n":
        return f"{round(value * tunes)} of {tunes}"
    return f"{value:.2f}"


def _target(target, kind: str, tunes: int) -> str:
    if target is None:
        return ""
    op, bound = target
    if op == "within":
        return f"{bound[0]}-{bound[1]}x real"
    sign = "≥" if op == ">=" else "≤"
    return f"{sign} {_cell(bound, kind, tunes)}"


def format_table(report: dict) -> str:
    """The human summary: one row per figure, jamd beside the real music and the baseline."""
    tunes = report["tunes"]
    header = ("what a player hears", "jamd", "real music", "baseline", "target", "")
    rows = [header]
    for f in report["figures"]:
        kind = FIGURES[f["name"]][1]
        mark = {True: "met", False: "MISSED", None: ""}[f["met"]]
        rows.append((f["what"], _cell(f["jamd"], kind, tunes), _cell(f["real"], kind, tunes),
                     _cell(f["baseline"], kind, tunes), _target(f["target"], kind, tunes), mark))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{report['mode']}: {report['model']}, {tunes} tunes x {len(report['seeds'])} seeds "
             f"(seeds {report['seeds'][0]}-{report['seeds'][-1]}), metres {report['metres']}"]
    lines += ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
              for row in rows]
    if report["mode"] == "duet":
        lines.append("real music: the tunes' own line; for the vertical figures, soprano (player) against alto "
                     f"in {report['chorales']} Bach chorales" if report["chorales"] else "real music: the tunes' own line")
    baseline = BASELINES.get(report["mode"])
    if baseline:
        lines.append(f"baseline: {baseline}")
    if report["skipped"]:
        lines.append("skipped while picking: " + ", ".join(f"{n} {why}" for why, n in report["skipped"].items()))
    return "\n".join(lines)
