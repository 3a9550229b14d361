"""Progress bars that suit where they are written: tqdm's bar redrawn in place on a terminal,
and in a log (stderr not a terminal: systemd, nohup, `2> fit.log`) one line per update, at
most every ``LOG_SECONDS``. A bar redrawn in place in a file is one endless line of ``\\r``s.

``use_log_lines()`` at command entry swaps the class that ``from tqdm import tqdm`` gives for
every bar jamd-train draws, wherever its module builds it.
"""

from __future__ import annotations

import sys

LOG_SECONDS = 30.0


def use_log_lines(stream=None) -> bool:
    """If ``stream`` (default stderr) is not a terminal, make tqdm print a line per update; True if so."""
    stream = stream or sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return False
    try:
        import tqdm
        import tqdm.std
    except ModuleNotFoundError:  # the light install: no bars to draw
        return False
    if getattr(tqdm.tqdm, "log_lines", False):
        return True

    class LogLines(tqdm.std.tqdm):
        log_lines = True

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("mininterval", LOG_SECONDS)
            kwargs.setdefault("ascii", True)  # a log viewer may not be UTF-8
            super().__init__(*args, **kwargs)

        @staticmethod
        def status_printer(file):
            last = [""]

            def print_status(text: str) -> None:
                text = text.rstrip()
                if text and text != last[0]:  # "" is tqdm clearing the line: nothing to clear here
                    file.write(text + "\n")
                    getattr(file, "flush", lambda: None)()
                last[0] = text
            return print_status

    tqdm.tqdm = LogLines
    return True
