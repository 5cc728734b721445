"""Shared fixtures: Galactica's reference files from ../shared, the tiny model, and a guard against stuck tests."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Galactica's real tokenizer and configs live beside the repository (licence: never copy them in).
REFERENCE_DIR = Path(os.environ.get("GALACTICA_REFERENCE_DIR", REPO.parent / "shared" / "galactica"))
# Models converted for CTranslate2 go to a fresh directory per run (servers started by tests inherit it),
# removed when the run ends: a test run leaves nothing behind in the temporary folder.
if "GALACTICA_LSP_CACHE" not in os.environ:
    _RUN_CACHE = tempfile.TemporaryDirectory(prefix="galactica-lsp-cache-")
    os.environ["GALACTICA_LSP_CACHE"] = _RUN_CACHE.name
    atexit.register(_RUN_CACHE.cleanup)


def reference_path(*parts: str) -> Path:
    path = REFERENCE_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"Galactica reference file {path} is absent (set GALACTICA_REFERENCE_DIR to its folder)")
    return path


@contextlib.contextmanager
def _hang_guard(seconds: float):
    """Raise TimeoutError in a test stuck for ``seconds`` (SIGALRM; where there is none, no guard)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def stuck(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: stuck")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def hang_guard():
    """``with hang_guard(seconds):`` stops a stuck test. Not a timing check: give many times what it needs
    (how fast something is belongs in benchmarks/)."""
    return _hang_guard


@pytest.fixture(scope="session")
def real_tokenizer():
    from transformers import AutoTokenizer

    from galactica_lsp.engine.galactica import configure_tokenizer

    return configure_tokenizer(AutoTokenizer.from_pretrained(str(reference_path("tokenizer"))))


@pytest.fixture(scope="session")
def size_configs() -> dict[str, dict]:
    return {
        name: json.loads(reference_path("configs", f"{name}.json").read_text())
        for name in ("mini", "base", "standard", "large", "huge")
    }


@pytest.fixture(scope="session")
def tiny_engine():
    """The tiny model loaded once through the real loading path, on the CPU, with the default engine (torch)."""
    from galactica_lsp.engine.service import Engine

    engine = Engine()
    engine.load("tiny", device="cpu", context_tokens=512, sequences=5)
    yield engine
    engine.shutdown()


@pytest.fixture(scope="session")
def tiny_torch_engine(tiny_engine):
    """The tiny model with the torch engine alone, whatever the default engine becomes."""
    assert tiny_engine.loaded.engine == "torch" and tiny_engine.loaded.fast is None
    return tiny_engine


@pytest.fixture(scope="session")
def tiny_ct2_engine():
    """The tiny model with CTranslate2 for greedy and sampled text, asked for by name."""
    pytest.importorskip("ctranslate2")
    from galactica_lsp.engine.service import Engine

    engine = Engine()
    engine.load("tiny", device="cpu", context_tokens=512, sequences=5, engine="ctranslate2")
    yield engine
    engine.shutdown()
