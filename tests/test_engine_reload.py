"""Reloading and unloading: a reload that fails its checks keeps the working model; unloading resets state;
the status is taken where the caches change."""

from __future__ import annotations

import json
import threading

import pytest

from galactica_lsp.engine.ct2 import EngineError
from galactica_lsp.engine.devices import DeviceError
from galactica_lsp.engine.loading import ModelError
from galactica_lsp.engine.memory import DoesNotFitError
from galactica_lsp.engine.service import Engine
from galactica_lsp.engine.types import DecodeSettings

HUGE = {"hidden_size": 10240, "num_hidden_layers": 96, "num_attention_heads": 80, "ffn_dim": 40960,
        "vocab_size": 50000, "max_position_embeddings": 2048}


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    engine.load("tiny", device="cpu", context_tokens=256)
    yield engine
    engine.shutdown()


def complete(engine: Engine) -> str:
    return engine.call(lambda g, c: g.complete("The Transformer", DecodeSettings(max_new_tokens=4), c), "c")[0].text


@pytest.fixture(scope="module")
def too_big(tmp_path_factory):
    directory = tmp_path_factory.mktemp("huge")
    (directory / "config.json").write_text(json.dumps(HUGE))  # a config and no weights
    return str(directory)


@pytest.mark.parametrize(
    "model,options,error,match",
    [
        ("nosuch", {}, ModelError, "unknown model"),
        ("./no/such/dir", {}, ModelError, "does not exist"),
        ("tiny", {"device": "tpu"}, DeviceError, "unknown device"),
        ("tiny", {"dtype": "int4"}, DeviceError, "unknown dtype"),
        ("tiny", {"engine": "onnx"}, EngineError, "unknown engine"),
        ("TOO_BIG", {}, DoesNotFitError, "does not fit"),
    ],
)
def test_a_reload_that_fails_its_checks_keeps_the_working_model_serving(engine, too_big, model, options, error,
                                                                        match):
    before = complete(engine)
    job = engine.start_load(too_big if model == "TOO_BIG" else model, **{"device": "cpu", **options})
    assert engine.state == "ready"  # while the checks run too
    with pytest.raises(error, match=match):
        job.future.result(timeout=120)
    assert engine.state == "ready" and engine.error is None
    assert engine.loaded.source.name == "tiny" and engine.status()["state"] == "ready"
    assert complete(engine) == before


def test_a_hub_model_that_is_not_cached_offline_keeps_the_working_model(engine, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local cache"):
        engine.start_load("base", device="cpu").future.result(timeout=120)
    assert engine.state == "ready" and engine.loaded.source.name == "tiny"


def test_a_reload_starts_from_nothing_kept(engine):
    engine.call(lambda g, c: g.complete("Protein structure prediction", DecodeSettings(max_new_tokens=3), c,
                                        key="doc"), "c")
    status = engine.status()
    assert status["engine"]["served"]["torch"] >= 1 and status["prefixCache"]["entries"] >= 1
    old = engine.loaded
    engine.load("tiny", device="cpu", context_tokens=256)
    assert engine.loaded is not old
    status = engine.status()
    assert status["engine"]["served"] == {"torch": 0} and status["engine"]["last"] is None
    assert status["prefixCache"] == {"entries": 0, "tokens": 0, "heldTokens": 0, "maxTokens": old.prompt_cache_tokens(),
                                     "lookups": 0, "hits": 0, "reusedTokens": 0}
    # The old model's stored prefills were dropped, not left to whoever still holds the old LoadedModel.
    assert old.backends[-1].prefixes.status()["entries"] == 0


def test_the_status_snapshot_is_taken_on_the_worker_thread(engine):
    backend = engine.loaded.backends[-1]
    threads = []
    original = backend.status

    def recording():
        threads.append(threading.current_thread().name)
        return original()

    backend.status = recording
    try:
        complete(engine)
        for _ in range(5):
            engine.status()  # from this thread: reads the snapshot, never the live cache
    finally:
        del backend.status
    assert threads and set(threads) == {engine.worker._thread.name}


def test_unloading_resets_the_state():
    engine = Engine()
    engine.load("tiny", device="cpu", context_tokens=64)
    assert engine.state == "ready"
    engine.shutdown()
    status = engine.status()
    assert engine.state == "empty" and engine.loaded is None
    assert "model" not in status and "engine" not in status and "prefixCache" not in status


def test_the_old_model_keeps_answering_while_the_new_one_downloads(engine, monkeypatch):
    from galactica_lsp.engine import loading

    real_download, release, started = loading.download, threading.Event(), threading.Event()

    def slow_download(source, report):
        started.set()
        assert release.wait(60), "the test never released the download"
        return real_download(source, report)

    monkeypatch.setattr(loading, "download", slow_download)
    before, old = complete(engine), engine.loaded
    job = engine.start_load("tiny", device="cpu", context_tokens=256)
    assert started.wait(60)
    try:
        # The download is under way on its own thread: the worker still serves the old model.
        assert complete(engine) == before and engine.loaded is old and engine.state == "ready"
        assert not job.future.done()
    finally:
        release.set()
    assert job.future.result(timeout=120) is engine.loaded and engine.loaded is not old
    assert complete(engine) == before


def test_a_download_that_fails_keeps_the_working_model(engine, monkeypatch):
    from galactica_lsp.engine import loading

    def broken(source, report):
        raise ModelError(f"cannot download {source.location}: ConnectionError: the network went away")

    monkeypatch.setattr(loading, "download", broken)
    before, old = complete(engine), engine.loaded
    with pytest.raises(ModelError, match="the network went away"):
        engine.start_load("tiny", device="cpu", context_tokens=256).future.result(timeout=120)
    assert engine.state == "ready" and engine.error is None and engine.loaded is old
    assert complete(engine) == before


def test_an_unreachable_vllm_endpoint_keeps_the_working_model(engine):
    before, old = complete(engine), engine.loaded
    job = engine.start_load("tiny", engine="vllm", endpoint="http://127.0.0.1:9")
    with pytest.raises(Exception, match="127.0.0.1:9"):
        job.future.result(timeout=120)
    assert engine.state == "ready" and engine.loaded is old
    assert complete(engine) == before


def test_a_newer_load_wins_over_an_older_one_still_downloading(engine, monkeypatch):
    from galactica_lsp.engine import loading
    from galactica_lsp.engine.types import Cancelled

    real_download, release, first_started = loading.download, threading.Event(), threading.Event()
    calls = []

    def download(source, report):
        calls.append(source.name)
        if len(calls) == 1:  # the first load's files are slow to come
            first_started.set()
            assert release.wait(60), "the test never released the download"
        return real_download(source, report)

    monkeypatch.setattr(loading, "download", download)
    older = engine.start_load("tiny", device="cpu", context_tokens=256)
    assert first_started.wait(60)
    newer = engine.start_load("tiny", device="cpu", context_tokens=128)
    serving = newer.future.result(timeout=120)
    assert engine.loaded is serving and engine.state == "ready"
    release.set()
    with pytest.raises(Cancelled, match="replaced by a newer load"):
        older.future.result(timeout=120)
    # The older load's model never replaced the newer one, and the state stayed as the newer load left it.
    assert engine.loaded is serving and engine.state == "ready" and engine.error is None
    assert complete(engine)
