"""The engine seam: tasks pick a backend by what it handles; a backend needs only token ids in, generations out."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from galactica_lsp.engine.backend import Backend, Capabilities, Finisher, Hypothesis, check_prompt, pick
from galactica_lsp.engine.catalogue import TINY_MODEL_DIR
from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, configure_tokenizer
from galactica_lsp.engine.service import Galactica
from galactica_lsp.engine.types import Cancelled, DecodeSettings, Generation


class Scripted(Backend):
    """A backend as a remote one would be: it sees token ids and answers with fixed token ids."""

    def __init__(self, name: str, capabilities: Capabilities, answer: list[int]):
        self.name, self.capabilities, self.answer = name, capabilities, answer
        self.prompts: list[tuple[list[int], str]] = []

    def generate(self, prompt_ids, settings, decode, cancelled=lambda: False, key=""):
        check_prompt(prompt_ids, cancelled)
        self.prompts.append((list(prompt_ids), key))
        finisher = Finisher(settings, decode)
        hyp = Hypothesis()
        for token in self.answer[: settings.max_new_tokens]:
            hyp.ids.append(token)
            hyp.logprobs.append(-0.5)
            hyp.finish = finisher.reason(hyp.ids)
            if hyp.finish:
                break
        result = finisher.result(hyp, hyp.finish or "length")
        return [Generation(result.text, result.token_ids, result.logprobs, result.finish_reason, len(prompt_ids), 0,
                           self.name)] * settings.num_return

    def status(self):
        return {f"{self.name}Calls": len(self.prompts)}


GREEDY_ONLY = Capabilities(strategies=frozenset({"greedy"}), seeded_sampling=False, diverse_beams=False)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return configure_tokenizer(AutoTokenizer.from_pretrained(str(TINY_MODEL_DIR)))


def galactica_over(tokenizer, *backends: Backend) -> Galactica:
    loaded = SimpleNamespace(tokenizer=tokenizer, shape=SimpleNamespace(max_positions=1024), backends=backends)
    return Galactica(loaded)


def test_each_request_goes_to_the_first_backend_that_handles_it(tokenizer):
    title = tokenizer("Attention is All you Need, Vaswani", add_special_tokens=False)["input_ids"]
    remote = Scripted("remote", GREEDY_ONLY, title + [END_REF_ID])
    local = Scripted("local", Capabilities(), title + [END_REF_ID])
    g = galactica_over(tokenizer, remote, local)
    [gen] = g.complete("The Transformer", DecodeSettings(max_new_tokens=40), key="doc")
    assert gen.engine == "remote" and remote.prompts[-1][1] == "doc"
    found = g.cite("The Transformer architecture", suggestions=2)  # beams: the remote one does not run them
    assert [s.text for s in found] == ["Attention is All you Need, Vaswani"] and len(local.prompts) == 1
    assert g.snapshot == {"served": {"remote": 1, "local": 1}, "last": "local", "remoteCalls": 1, "localCalls": 1}


def test_a_request_no_backend_handles_is_refused_by_name(tokenizer):
    g = galactica_over(tokenizer, Scripted("remote", GREEDY_ONLY, [EOS_ID]))
    with pytest.raises(ValueError, match=r"no loaded backend runs 'sample' decoding as asked \(loaded: remote\)"):
        g.complete("x", DecodeSettings(strategy="sample", num_return=2))


def test_the_prompt_a_backend_sees_is_cut_to_the_budget(tokenizer):
    remote = Scripted("remote", GREEDY_ONLY, [EOS_ID])
    g = galactica_over(tokenizer, remote)
    g.complete("The Transformer architecture relies on attention. " * 40, DecodeSettings(), budget=100)
    assert len(remote.prompts[-1][0]) == 86


def test_a_cancelled_request_never_reaches_the_model(tokenizer):
    remote = Scripted("remote", GREEDY_ONLY, [EOS_ID])
    with pytest.raises(Cancelled):
        galactica_over(tokenizer, remote).complete("x", DecodeSettings(), cancelled=lambda: True)
    assert remote.prompts == []


@pytest.mark.parametrize(
    "settings,greedy_only,everything",
    [
        (DecodeSettings(), True, True),
        (DecodeSettings(strategy="sample", num_return=2), False, True),
        (DecodeSettings(strategy="beam", num_beams=2, num_return=2), False, True),
        (DecodeSettings(strategy="beam", num_beams=2, num_return=2, beam_groups=2, diversity=1.0), False, True),
    ],
)
def test_handles_follows_the_capabilities(settings, greedy_only, everything):
    assert Scripted("a", GREEDY_ONLY, []).handles(settings) is greedy_only
    assert Scripted("b", Capabilities(), []).handles(settings) is everything


def test_seeds_and_diverse_beams_need_their_capability():
    unseeded = Scripted("c", Capabilities(seeded_sampling=False, diverse_beams=False), [])
    assert unseeded.handles(DecodeSettings(strategy="sample", num_return=2))
    assert not unseeded.handles(DecodeSettings(strategy="sample", num_return=2, seed=3))
    assert unseeded.handles(DecodeSettings(strategy="beam", num_beams=4, num_return=4, beam_groups=2))  # no penalty
    assert not unseeded.handles(DecodeSettings(strategy="beam", num_beams=4, num_return=4, beam_groups=2,
                                               diversity=0.5))
    assert pick([unseeded, Scripted("d", Capabilities(), [])], DecodeSettings(strategy="sample", seed=1)).name == "d"
