"""Shared fixtures: a real exported model for the daemon tests."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(__file__).parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def folk_model_path() -> Path:
    """models/folk.onnx if it has been built, else $JAMD_TEST_MODEL; skip if neither exists."""
    shipped = REPO / "models" / "folk.onnx"
    if shipped.exists():
        return shipped
    env = os.environ.get("JAMD_TEST_MODEL")
    if env and Path(env).exists():
        return Path(env)
    pytest.skip("no model: build models/folk.onnx (make models) or set JAMD_TEST_MODEL to a .onnx")


@pytest.fixture
def folk_model(folk_model_path):
    """A freshly loaded folk StepModel (state zeroed, step count 0)."""
    from jamd.daemon.model import load_model

    return load_model(folk_model_path)


# ---- JACK: real MIDI ports without a sound card --------------------------------------------

JACKD = ("jackd", "--sync", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256")


def _jack_answers() -> bool:
    from jamd.daemon.ports import unavailable_reason

    return unavailable_reason("jack") is None


def _need_jackd() -> None:
    import shutil

    if shutil.which("jackd") is None:
        message = "jackd not found: install jackd2 (apt-get install jackd2) to run the JACK tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (.ci/run installs it in CI)")
        pytest.skip(message)


def _jack_answers_elsewhere() -> bool:
    """_jack_answers in a child process: libjack serves one JACK server per process, and the
    session's server already has this one's test clients."""
    import subprocess
    import sys

    code = "import sys; from jamd.daemon.ports import unavailable_reason; sys.exit(unavailable_reason('jack') is not None)"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=30).returncode == 0


def _jackd_runs() -> bool:
    """Whether any jackd process lives on this machine (a zombie does not count)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:  # the process ended while we looked
            continue
        if fields.get("Name") == "jackd" and not fields.get("State", "").startswith("Z"):
            return True
    return False


def _forget_killed_jack_servers() -> None:
    """jackd keeps eight server slots in /dev/shm/jack-shm-registry and frees a killed server's
    slot only for a new server of the same name, so after eight killed servers of other names none
    starts ("Too many servers already active"; seen in CI). With no jackd running, every slot and
    every JACK file in /dev/shm is a dead server's: remove ours, and jackd starts afresh."""
    if _jackd_runs():
        return
    for path in Path("/dev/shm").glob("jack*"):
        try:
            if path.lstat().st_uid != os.getuid():
                continue
            if path.is_dir() and not path.is_symlink():
                for child in path.iterdir():
                    child.unlink()
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            pass  # another user's, or gone already: jackd will say if it matters


def _serve_jack(log_path: Path, name: str | None = None):
    """Start `jackd -d dummy` (named ``name``, else the default server); yield it; stop it."""
    import subprocess
    import time

    _forget_killed_jack_servers()
    command = ("jackd", "-n", name, *JACKD[1:]) if name else JACKD
    answers = _jack_answers_elsewhere if name else _jack_answers
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10.0
    while not answers():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait()
            tail = log_path.read_text(errors="replace")[-800:]
            if "Too many servers already active" in tail:
                tail += ("\n(JACK's eight server slots hold servers that were killed, not stopped: "
                         "stop every jackd, then remove /dev/shm/jack-shm-registry)")
            pytest.fail(f"{' '.join(command)} did not start a JACK server:\n{tail}")
        time.sleep(0.1)
    yield server
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    """A JACK server to open real MIDI ports on: the running one, else `jackd -d dummy` started here.

    Without jackd: a failure under CI (CI=true; .ci/run installs jackd2), a skip locally.
    """
    from jack_clients import close_all

    serving = None
    if not _jack_answers():
        _need_jackd()
        serving = _serve_jack(tmp_path_factory.mktemp("jack") / "jackd.log")
    yield next(serving) if serving else None
    close_all()  # the test players, before their server goes
    if serving:
        next(serving, None)  # stops the server


@pytest.fixture
def empty_jack_server(jack_server, tmp_path, monkeypatch):
    """A JACK server of this test's own with no client on it yet, as on a Pi that just booted
    (the session's server keeps the test clients of earlier tests: see tests/test_jack_e2e.py).
    Only child processes may use it: libjack serves one server per process."""
    _need_jackd()
    # Named after the session's server, not this process: a killed server's slot is only freed
    # for one of the same name (see _forget_killed_jack_servers).
    name = f"{os.environ.get('JACK_DEFAULT_SERVER', 'jamd')}-empty"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    yield from _serve_jack(tmp_path / "jackd.log", name)
