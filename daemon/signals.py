"""The signals jamd acts on, taken by the main thread only (sigtimedwait), never by a handler.

SIGTERM/SIGINT stop jamd, SIGHUP reloads it. ``block_signals`` must run before any thread
exists: a thread that does not block them (numpy's OpenBLAS starts one when imported, the
MIDI backends start theirs when ports open) would take the signal's default action, and the
process would die without ending its notes. So this module imports nothing heavy.
"""

from __future__ import annotations

import signal
import time

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def block_signals() -> None:
    """Hold SIGTERM/SIGINT/SIGHUP for ``wait_signal``; call first thing, before any import that
    starts a thread."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # POSIX only: jamd runs on Linux and macOS


def wait_signal(timeout: float) -> int | None:
    """The signal number that came within ``timeout`` seconds, or None."""
    try:
        info = signal.sigtimedwait(SIGNALS, timeout)
    except AttributeError:  # pragma: no cover - macOS has no sigtimedwait
        return _poll_pending(timeout)
    return info.si_signo if info is not None else None


def _poll_pending(timeout: float) -> int | None:  # pragma: no cover - macOS
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pending = signal.sigpending()
        if pending:
            signum = next(iter(pending))
            signal.sigwait([signum])
            return signum
        time.sleep(0.05)
    return None
