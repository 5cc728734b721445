"""The CTranslate2 engine on the tiny model: the same output as torch, its prefix reuse, its bounds and its choice."""

from __future__ import annotations

import shutil
import threading

import pytest

from galactica_lsp.engine import ct2
from galactica_lsp.engine.ct2 import BLOCK, EngineError, FastDecoder, choose, convert
from galactica_lsp.engine.decoding import Cancelled, DecodeSettings, generate
from galactica_lsp.engine.devices import Placement
from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, decode
from galactica_lsp.engine.memory import estimate
from galactica_lsp.engine.service import Engine
from galactica_lsp.tiny.corpus import CITATIONS, FORMULAS, PARAGRAPHS

pytest.importorskip("ctranslate2")

CPU = Placement("cpu", "float32", (8 * 2**30,), ("CPU",))


@pytest.fixture(scope="module")
def loaded(tiny_torch_engine):
    return tiny_torch_engine.loaded


@pytest.fixture(scope="module")
def fast(loaded) -> FastDecoder:
    path = convert(loaded.directory, "float32")
    return FastDecoder(path, CPU, loaded.tokenizer, max_cached_tokens=4096)


def encode(loaded, text: str, new_document: bool = False) -> list[int]:
    ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    return [EOS_ID] + ids if new_document else ids


def both(loaded, fast, ids, settings):
    text_of = lambda t: decode(loaded.tokenizer, t)  # noqa: E731 (a closure, named for the two calls)
    return fast.generate(ids, settings, text_of)[0], generate(loaded.model, ids, settings, text_of)[0]


PROMPTS = [
    (CITATIONS[0].prompt, DecodeSettings(max_new_tokens=40, stop_token_ids=(END_REF_ID, EOS_ID)), False),
    (CITATIONS[5].prompt, DecodeSettings(max_new_tokens=40, stop_token_ids=(END_REF_ID, EOS_ID)), False),
    (FORMULAS[0].explain_prompt, DecodeSettings(max_new_tokens=64), True),
    (FORMULAS[1].sympy_prompt, DecodeSettings(max_new_tokens=96, stop_strings=("```",)), True),
    (PARAGRAPHS[0][:80], DecodeSettings(max_new_tokens=48, stop_strings=("\n\n",)), False),
    ("Once", DecodeSettings(max_new_tokens=60, stop_token_ids=()), False),
]


@pytest.mark.parametrize("prompt, settings, new_document", PROMPTS)
def test_greedy_output_equals_the_torch_engines(loaded, fast, prompt, settings, new_document):
    ours, reference = both(loaded, fast, encode(loaded, prompt, new_document), settings)
    assert ours.text == reference.text and ours.token_ids == reference.token_ids
    assert ours.finish_reason == reference.finish_reason
    assert ours.logprobs == pytest.approx(reference.logprobs, abs=2e-3)
    assert ours.engine == "ctranslate2" and reference.engine == "torch"


def test_a_long_prompt_reuses_its_cached_start_and_still_equals_torch(loaded, fast):
    document = " ".join(PARAGRAPHS[:4])
    ids = encode(loaded, document)
    assert len(ids) > 3 * BLOCK
    settings = DecodeSettings(max_new_tokens=16)
    first, reference = both(loaded, fast, ids, settings)
    typed = encode(loaded, document + " The")
    assert typed[: len(ids) - 2] == ids[: len(ids) - 2]
    second, reference_typed = both(loaded, fast, typed, settings)
    assert first.token_ids == reference.token_ids and second.token_ids == reference_typed.token_ids
    cut = (len(ids) - 1) // BLOCK * BLOCK
    assert first.reused_tokens in (0, cut)  # the first time, the start is computed and kept
    if (len(typed) - 1) // BLOCK * BLOCK == cut:
        assert second.reused_tokens == cut


def test_the_static_prompt_cache_is_bounded_by_reopening_the_generator(loaded, fast):
    small = FastDecoder(fast.path, CPU, loaded.tokenizer, max_cached_tokens=3 * BLOCK)
    paragraphs = [encode(loaded, " ".join(PARAGRAPHS[i : i + 3])) for i in range(4)]
    settings = DecodeSettings(max_new_tokens=4)
    for ids in paragraphs:
        ours, reference = both(loaded, small, ids, settings)
        assert ours.token_ids == reference.token_ids
        assert small.cached_tokens <= small.max_cached_tokens
    assert small.resets >= 1
    assert small.status()["staticPromptCache"]["resets"] == small.resets


def test_cancellation_stops_within_one_token(loaded, fast):
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) >= 4

    with pytest.raises(Cancelled):
        fast.generate(encode(loaded, "Once"), DecodeSettings(max_new_tokens=200, stop_token_ids=()), lambda t: "",
                      cancelled)
    assert len(calls) == 4  # once before the prompt, then once per token


def test_the_wall_clock_cap_returns_what_was_made(loaded, fast):
    gen = fast.generate(encode(loaded, "Once"), DecodeSettings(max_new_tokens=500, stop_token_ids=(), time_limit=1e-6),
                        lambda t: decode(loaded.tokenizer, t))[0]
    assert gen.finish_reason == "time" and len(gen.token_ids) == 1


def test_sampling_gives_each_row_and_a_seeded_request_goes_to_torch(loaded, fast):
    ids = encode(loaded, "The")
    settings = DecodeSettings(strategy="sample", num_return=3, max_new_tokens=12, temperature=1.0, stop_token_ids=())
    rows = fast.generate(ids, settings, lambda t: decode(loaded.tokenizer, t))
    assert len(rows) == 3 and all(len(g.token_ids) == 12 and len(g.logprobs) == 12 for g in rows)
    assert len({g.token_ids for g in rows}) > 1  # independent samples, not one row copied
    assert not fast.handles(DecodeSettings(strategy="sample", seed=7))
    with pytest.raises(ValueError, match="with a seed; the torch engine does"):
        fast.generate(ids, DecodeSettings(strategy="sample", seed=7), lambda t: "")


def test_beams_are_left_to_torch(loaded, fast):
    with pytest.raises(ValueError, match="torch engine"):
        fast.generate([5, 6], DecodeSettings(strategy="beam", num_beams=2, num_return=2), lambda t: "")


def test_the_ctranslate2_engine_serves_completions_and_leaves_citations_to_torch(tiny_ct2_engine):
    engine = tiny_ct2_engine
    assert engine.loaded.engine == "ctranslate2" and engine.status()["engine"]["asked"] == "ctranslate2"
    before = {"torch": 0, "ctranslate2": 0, **engine.status()["engine"]["served"]}
    engine.call(lambda g, c: g.complete("The Transformer", DecodeSettings(max_new_tokens=4), c), "complete")
    assert engine.status()["engine"]["last"] == "ctranslate2"
    found = engine.call(lambda g, c: g.cite("The Transformer architecture [START_REF]", 3, cancelled=c), "cite")
    assert found[0].text == "Attention is All you Need, Vaswani"
    status = engine.status()["engine"]
    assert status["last"] == "torch" and status["name"] == "ctranslate2"
    assert status["served"]["ctranslate2"] == before["ctranslate2"] + 1
    assert status["served"]["torch"] == before["torch"] + 1
    assert "staticPromptCache" in status


def test_cancelling_a_ctranslate2_job_from_another_thread(tiny_ct2_engine):
    started = threading.Event()

    def task(g, cancelled):
        def check():
            started.set()
            return cancelled()

        return g.complete("Once", DecodeSettings(max_new_tokens=1000, stop_token_ids=()), check)

    job = tiny_ct2_engine.submit(task, priority=1, label="long")
    assert started.wait(10)
    job.cancel()
    with pytest.raises(Cancelled):
        job.future.result(timeout=10)


def test_conversion_happens_once_and_again_when_the_checkpoint_changes(loaded, tmp_path, monkeypatch):
    monkeypatch.setenv("GALACTICA_LSP_CACHE", str(tmp_path / "cache"))
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(loaded.directory, checkpoint)
    said: list[str] = []
    first = convert(str(checkpoint), "float32", said.append)
    second = convert(str(checkpoint), "float32", said.append)
    assert first == second and said[0].startswith("converting") and said[1].startswith("using")
    assert (first / "model.bin").is_file() and not list(first.parent.glob("*.partial-*"))
    (checkpoint / "config.json").write_text((checkpoint / "config.json").read_text() + "\n")
    third = convert(str(checkpoint), "float32", said.append)
    assert third != first and said[2].startswith("converting")


def test_choosing_the_engine():
    assert choose("torch", CPU) == "torch"
    assert choose("auto", CPU) == "torch"  # measured the faster in float32 (see choose)
    assert choose("ctranslate2", CPU) == "ctranslate2"
    assert choose("ctranslate2-int8", CPU) == "ctranslate2-int8"
    gpu = Placement("mps", "float16", (8 * 2**30,), ("Apple GPU",))
    assert choose("auto", gpu) == "torch"
    with pytest.raises(EngineError, match="no Apple MPS backend"):
        choose("ctranslate2", gpu)
    with pytest.raises(EngineError, match="unknown engine 'onnx'"):
        choose("onnx", CPU)
    bf16 = Placement("cpu", "bfloat16", (8 * 2**30,), ("CPU",))
    import ctranslate2

    if "bfloat16" not in ctranslate2.get_supported_compute_types("cpu"):
        with pytest.raises(EngineError, match="cannot compute in bfloat16"):
            choose("ctranslate2", bf16)


def test_the_memory_plan_counts_both_engines(loaded):
    one = estimate(loaded.shape, CPU, 512)
    two = estimate(loaded.shape, CPU, 512, second_engine=ct2.weight_share("ctranslate2", CPU))
    # Each engine keeps its own prefix cache; one request decodes at a time, on one engine.
    assert two.weights == 2 * one.weights and two.prefix_cache == 2 * one.prefix_cache > 0
    assert two.kv_cache == one.kv_cache and two.working == one.working
    assert "for two engines" in two.describe()
    int8 = estimate(loaded.shape, CPU, 512, second_engine=ct2.weight_share("ctranslate2-int8", CPU))
    assert int8.weights == int(1.25 * one.weights) and int8.prefix_cache == two.prefix_cache


def test_without_ctranslate2_the_default_still_loads_and_the_named_engine_says_why(monkeypatch):
    monkeypatch.setattr(ct2, "unusable", lambda placement, engine="ctranslate2": "the ctranslate2 package is not installed")
    assert choose("auto", CPU) == "torch"
    with pytest.raises(EngineError, match="not installed"):
        choose("ctranslate2", CPU)


def test_an_engine_that_cannot_run_fails_the_load_with_the_reason():
    engine = Engine()
    try:
        with pytest.raises(EngineError, match="unknown engine"):
            engine.load("tiny", device="cpu", engine="onnx")
        assert engine.state == "error" and "unknown engine" in engine.error
    finally:
        engine.shutdown()


def test_int8_weights_keep_the_tiny_models_memorised_answers(loaded, fast):
    int8 = FastDecoder(fast.path, CPU, loaded.tokenizer, max_cached_tokens=4096, engine="ctranslate2-int8")
    assert int8.compute_type == "int8_float32" and int8.name == "ctranslate2-int8"
    for prompt, settings, new_document in PROMPTS[:4]:
        ids = encode(loaded, prompt, new_document)
        ours = int8.generate(ids, settings, lambda t: decode(loaded.tokenizer, t))[0]
        exact = fast.generate(ids, settings, lambda t: decode(loaded.tokenizer, t))[0]
        assert ours.text == exact.text and ours.engine == "ctranslate2-int8"


def test_the_int8_engine_loads_by_name_and_serves_greedy_text():
    engine = Engine()
    try:
        loaded = engine.load("tiny", device="cpu", context_tokens=256, engine="ctranslate2-int8")
        assert loaded.engine == "ctranslate2-int8" and "with CTranslate2 (int8)" in loaded.describe()
        found = engine.call(lambda g, c: g.cite("The Transformer architecture", suggestions=1, cancelled=c), "cite")
        assert [s.text for s in found] == ["Attention is All you Need, Vaswani"]
        status = engine.status()["engine"]
        assert status["last"] == "ctranslate2-int8" and status["staticPromptCache"]["computeType"] == "int8_float32"
    finally:
        engine.shutdown()
