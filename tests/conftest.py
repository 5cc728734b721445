"""Shared fixtures: Galactica's reference files from ../shared, and the tiny model."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Galactica's real tokenizer and configs live beside the repository (licence: never copy them in).
REFERENCE_DIR = Path(os.environ.get("GALACTICA_REFERENCE_DIR", REPO.parent / "shared" / "galactica"))
# Models converted for CTranslate2 go to a fresh directory per run (servers started by tests inherit it).
os.environ.setdefault("GALACTICA_LSP_CACHE", tempfile.mkdtemp(prefix="galactica-lsp-cache-"))


def reference_path(*parts: str) -> Path:
    path = REFERENCE_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"Galactica reference file {path} is absent (set GALACTICA_REFERENCE_DIR to its folder)")
    return path


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
