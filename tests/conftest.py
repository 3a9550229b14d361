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
    from daemon.model import load_model

    return load_model(folk_model_path)


# ---- JACK: real MIDI ports without a sound card --------------------------------------------

JACKD = ("jackd", "--sync", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256")


def _jack_answers() -> bool:
    from daemon.ports import unavailable_reason

    return unavailable_reason("jack") is None


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    """A JACK server to open real MIDI ports on: the running one, else `jackd -d dummy` started here.

    Without jackd: a failure under CI (CI=true; .ci/run installs jackd2), a skip locally.
    """
    import shutil
    import subprocess
    import time

    if _jack_answers():
        yield None
        return
    if shutil.which("jackd") is None:
        message = "jackd not found: install jackd2 (apt-get install jackd2) to run the JACK tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (.ci/run installs it in CI)")
        pytest.skip(message)
    log_path = tmp_path_factory.mktemp("jack") / "jackd.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(JACKD, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10.0
    while not _jack_answers():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait()
            tail = log_path.read_text(errors="replace")[-800:]
            pytest.fail(f"{' '.join(JACKD)} did not start a JACK server:\n{tail}")
        time.sleep(0.1)
    yield server
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
