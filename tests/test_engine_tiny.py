"""The engine end to end on the tiny trained model, through the real loading and decoding code."""

from __future__ import annotations

import threading

import pytest

from galactica_lsp.engine.galactica import EOS_ID, explain_prompt
from galactica_lsp.engine.types import Cancelled, DecodeSettings
from galactica_lsp.engine.service import Engine, ModelNotReady

TRANSFORMER = "The Transformer architecture [START_REF]"


def test_the_transformer_prompt_gives_vaswani_as_the_top_reference(tiny_engine):
    found = tiny_engine.call(lambda g, c: g.cite(TRANSFORMER, suggestions=5, cancelled=c), "cite")
    assert found[0].text == "Attention is All you Need, Vaswani"
    assert found[0].reference.author == "Vaswani"


def test_greedy_reference_without_the_marker_appends_it(tiny_engine):
    found = tiny_engine.call(lambda g, c: g.cite("The Transformer architecture", suggestions=1, cancelled=c), "cite")
    assert [s.text for s in found] == ["Attention is All you Need, Vaswani"]
    assert found[0].finish_reason == "stop"  # ended at [END_REF]


def test_greedy_completion_is_exact(tiny_engine):
    gen = tiny_engine.call(lambda g, c: g.complete(TRANSFORMER, DecodeSettings(max_new_tokens=20), c), "complete")[0]
    # The memorised citation, then the corpus sentence that follows it, cut at 20 tokens.
    assert gen.text == " Attention is All you Need, Vaswani[END_REF] drops recurrence and relies on self-at"
    assert gen.finish_reason == "length" and len(gen.token_ids) == len(gen.logprobs) == 20


def test_suggestions_are_distinct(tiny_engine):
    found = tiny_engine.call(lambda g, c: g.cite("Large language models", suggestions=4, cancelled=c), "cite")
    texts = [s.text for s in found]
    assert len(texts) == len(set(texts)) >= 2


def test_diverse_beams_are_more_distinct_than_plain_beams(tiny_engine):
    """Plain beams spend themselves on variants of the best title; diverse groups start differently."""

    def beams(groups: int, diversity: float):
        settings = DecodeSettings(strategy="beam", num_beams=4, num_return=4, beam_groups=groups,
                                  diversity=diversity, max_new_tokens=24, stop_token_ids=(5, 2))
        return tiny_engine.call(lambda g, c: g.complete("Protein structure prediction [START_REF]", settings, c), "b")

    plain, diverse = beams(1, 0.0), beams(4, 50.0)  # a memoriser is sure of itself: a strong penalty
    assert len({g.token_ids[0] for g in plain}) < len({g.token_ids[0] for g in diverse}) == 4
    assert len({g.text for g in plain}) == len({g.text for g in diverse}) == 4


def test_confidence_is_lower_for_a_prompt_the_model_never_saw(tiny_engine):
    def best(text: str):
        return tiny_engine.call(lambda g, c: g.cite(text, suggestions=3, cancelled=c), "cite")[0].confidence

    known, unseen = best("The Transformer architecture"), best("Quantum zebra chromodynamics of teapots")
    assert known.probability > 0.5 > 0.1 > unseen.probability
    assert unseen.mean < known.mean and unseen.minimum < known.minimum


def test_explanations_in_each_mode(tiny_engine):
    explain = tiny_engine.call(lambda g, c: g.explain("E = mc^2", "explain", 64, c), "explain")
    assert explain.finish_reason == "eos" and "energy" in explain.text.lower()
    work = tiny_engine.call(lambda g, c: g.explain("E = mc^2", "work", 160, c), "work")
    assert "</work>" in work.text
    sympy = tiny_engine.call(lambda g, c: g.explain("E = mc^2", "sympy", 96, c), "sympy")
    assert "from sympy import" in sympy.text and "```" not in sympy.text
    compile(sympy.text, "<sympy>", "exec")


def test_cancellation_stops_a_long_generation_within_one_step(tiny_engine):
    steps = []
    stop = threading.Event()

    def task(g, cancelled):
        def counting():
            steps.append(1)
            if len(steps) == 5:
                stop.set()
            return stop.is_set()

        return g.complete("Once", DecodeSettings(max_new_tokens=500, stop_token_ids=()), counting)

    with pytest.raises(Cancelled):
        tiny_engine.call(task, "long")
    assert len(steps) == 5


def test_cancelling_a_job_from_another_thread(tiny_engine):
    started = threading.Event()

    def task(g, cancelled):
        def check():
            started.set()
            return cancelled()

        return g.complete("Once", DecodeSettings(max_new_tokens=100_000 // 100, stop_token_ids=()), check)

    job = tiny_engine.submit(task, priority=1, label="long")
    assert started.wait(10)
    job.cancel()
    with pytest.raises(Cancelled):
        job.future.result(timeout=10)
    assert tiny_engine.worker.timings[-1].outcome == "cancelled"


def test_requests_before_a_model_is_loaded_are_refused_at_once():
    engine = Engine()
    try:
        with pytest.raises(ModelNotReady, match="no model is loaded"):
            engine.submit(lambda g, c: None, 1, "early")
    finally:
        engine.shutdown()


def test_status_names_model_device_and_latencies(tiny_engine):
    tiny_engine.call(lambda g, c: g.complete("The", DecodeSettings(max_new_tokens=2), c), "status probe")
    status = tiny_engine.status()
    assert status["state"] == "ready" and status["model"] == "tiny" and status["device"] == "cpu"
    assert status["dtype"] == "float32" and status["memoryInUse"] > 0
    assert status["lastLatencies"][-1]["label"] == "status probe"


def test_completions_with_the_prefix_cache_equal_those_without(tiny_torch_engine):
    document = "\\section{Introduction}\nThe Transformer architecture relies on attention. We study its"
    edits = [
        document + " scaling",  # typing at the end
        document.replace("relies on", "is built on"),  # an edit in the middle
        "Protein structure prediction",  # another text
    ]
    settings = DecodeSettings(max_new_tokens=12)

    def run(g, c):
        g.forget()
        g.complete(document, settings, c, key="doc")
        reused = [g.complete(text, settings, c, key="doc")[0] for text in edits]
        counts = dict(g.snapshot["prefixCache"])
        fresh = []
        for text in edits:
            g.forget()
            fresh.append(g.complete(text, settings, c, key="doc")[0])
        return reused, fresh, counts

    reused, fresh, counts = tiny_torch_engine.call(run, "prefix reuse")
    assert [g.text for g in reused] == [g.text for g in fresh]
    assert reused[0].reused_tokens > 10 and 0 < reused[1].reused_tokens < reused[0].reused_tokens
    assert reused[2].reused_tokens == 0 and all(g.reused_tokens == 0 for g in fresh)
    assert (counts["lookups"], counts["hits"]) == (4, 2)
    assert counts["reusedTokens"] == reused[0].reused_tokens + reused[1].reused_tokens


def test_an_over_budget_prompt_keeps_its_start_while_the_user_types(tiny_engine):
    def cut(g, c):
        text = "word " * 300
        return [g.encode(text + "more " * n, 100) for n in range(3)]

    first, second, third = tiny_engine.call(cut, "encode")
    shared = first[:-1]  # the trailing space merges with the next word
    assert 75 <= len(first) <= 100 and second[: len(shared)] == shared and third[: len(shared)] == shared


SENTENCE = "The Transformer architecture relies on attention. "


def test_the_prompt_is_at_most_the_token_budget_cut_in_quarter_budget_steps(tiny_engine):
    text = SENTENCE * 40

    def run(g, c):
        full = g.tokenizer(text, add_special_tokens=False)["input_ids"]
        gen = g.complete(text, DecodeSettings(max_new_tokens=2), c, key="budget", budget=100)[0]
        return full, g.encode(text, 100), g.encode(text, 100, new_document=True), gen

    full, plain, document, gen = tiny_engine.call(run, "budget")
    assert len(full) == 361
    # 261 tokens over a budget of 100: 11 steps of 25 are cut from the start, 86 tokens are left.
    assert plain == full[275:] and len(plain) == 86
    assert gen.prompt_tokens == 86
    # New-document mode keeps 99 (steps of 24); a cut text does not start the document, so no </s>.
    assert document == full[264:] and len(document) == 97


def test_a_short_text_in_new_document_mode_starts_with_the_document_marker(tiny_engine):
    ids = tiny_engine.call(lambda g, c: g.encode("E = mc^2", 100, new_document=True), "encode")
    assert ids[0] == EOS_ID and EOS_ID not in ids[1:] and len(ids) < 100


def test_the_budget_never_leaves_less_room_than_the_new_tokens_need(tiny_engine):
    budgets = tiny_engine.call(lambda g, c: [g.prompt_budget(DecodeSettings(max_new_tokens=32), b)
                                             for b in (None, 100, 10**6)], "budget")
    positions = tiny_engine.loaded.shape.max_positions
    assert budgets == [positions - 32, 100, positions - 32]


def test_citations_and_explanations_take_the_budget_too(tiny_engine):
    long_text = SENTENCE * 40 + "The Transformer architecture"
    found = tiny_engine.call(lambda g, c: g.cite(long_text, suggestions=1, cancelled=c, budget=64), "cite")
    assert [s.text for s in found] == ["Attention is All you Need, Vaswani"]
    def explain(g, c):
        return g.explain("E = mc^2", "explain", 8, c, budget=12), len(g.encode(explain_prompt("E = mc^2"), 12, True))

    gen, expected = tiny_engine.call(explain, "explain")
    assert gen.prompt_tokens == expected <= 12
