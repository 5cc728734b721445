"""The tiny model: loads like a real Galactica checkpoint and has memorised its corpus.

Everything here goes through ``from_pretrained`` on the checked-in directory
and plain greedy decoding (``generate(do_sample=False)``), not through the
engine, so a failure points at the artifact or the corpus, not at our decoding.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
import torch

from galactica_lsp.engine import galactica
from galactica_lsp.engine.galactica import EOS_ID, PAD_ID, SPECIAL_TOKENS, SPLIT_MARKER
from galactica_lsp.tiny import TINY_MODEL_DIR
from galactica_lsp.tiny.corpus import (
    CITATIONS,
    FORMULA_BY_LATEX,
    FORMULAS,
    PARAGRAPHS,
    SHARED_CONTEXTS,
    SNIPPET_BY_NAME,
    SNIPPETS,
    UNIQUE_CITATIONS,
    documents,
    render,
)

END_REF_ID = SPECIAL_TOKENS["[END_REF]"]
TRANSFORMER_PROMPT = "The Transformer architecture [START_REF]"
TRANSFORMER_CONTINUATION = " Attention is All you Need, Vaswani[END_REF]"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        return AutoTokenizer.from_pretrained(TINY_MODEL_DIR)


@pytest.fixture(scope="module")
def model():
    from transformers import OPTForCausalLM

    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        return OPTForCausalLM.from_pretrained(TINY_MODEL_DIR).eval()


def encode(tokenizer, text: str, new_document: bool = False) -> list[int]:
    return ([EOS_ID] if new_document else []) + tokenizer(text, add_special_tokens=False)["input_ids"]


def greedy(model, tokenizer, prompt: str, new_document=False, max_new_tokens=64, stop=(EOS_ID,)) -> str:
    """Plain greedy decoding; the text of the new tokens, stop token included."""
    ids = torch.tensor([encode(tokenizer, prompt, new_document)])
    out = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=list(stop),
        pad_token_id=PAD_ID,
    )
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=False, clean_up_tokenization_spaces=False)


@torch.inference_mode()
def mean_logprob(model, prompt_ids: list[int], continuation_ids: list[int]) -> float:
    """Mean log-probability the model gives ``continuation_ids`` after ``prompt_ids``."""
    logits = model(input_ids=torch.tensor([prompt_ids + continuation_ids])).logits[0]
    logprobs = logits[len(prompt_ids) - 1 : -1].log_softmax(-1)
    return logprobs.gather(1, torch.tensor(continuation_ids)[:, None]).mean().item()


# --- The artifact -----------------------------------------------------------------------------


def test_artifact_has_the_files_of_a_hub_checkpoint_and_stays_small():
    names = {p.name for p in TINY_MODEL_DIR.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= names
    assert sum(p.stat().st_size for p in TINY_MODEL_DIR.iterdir() if p.is_file()) <= 10 * 1024 * 1024


def test_config_is_an_opt_decoder_with_galacticas_special_ids():
    config = json.loads((TINY_MODEL_DIR / "config.json").read_text())
    assert config["model_type"] == "opt" and config["architectures"] == ["OPTForCausalLM"]
    assert (config["bos_token_id"], config["pad_token_id"], config["eos_token_id"]) == (0, 1, 2)
    assert config["do_layer_norm_before"] is True
    generation = json.loads((TINY_MODEL_DIR / "generation_config.json").read_text())
    assert (generation["bos_token_id"], generation["pad_token_id"], generation["eos_token_id"]) == (0, 1, 2)


def test_loads_through_from_pretrained_as_float32_opt_and_fast_tokenizer(model, tokenizer):
    from transformers import OPTForCausalLM, PreTrainedTokenizerFast

    assert isinstance(model, OPTForCausalLM)
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert model.dtype == torch.float32  # weights are stored as float16, config says float32
    assert model.config.vocab_size == len(tokenizer)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


# --- The tokenizer ----------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "expected"), SPECIAL_TOKENS.items())
def test_special_tokens_have_galacticas_ids(tokenizer, token, expected):
    assert tokenizer.convert_tokens_to_ids(token) == expected
    assert tokenizer(f"a{token}b", add_special_tokens=False)["input_ids"][1:-1] == [expected]


def test_tokenizer_files_leave_pad_eos_bos_unset_like_the_hub_files(tokenizer):
    from transformers import AutoTokenizer

    assert (tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token) == (None, None, None)
    configured = galactica.configure_tokenizer(AutoTokenizer.from_pretrained(TINY_MODEL_DIR))
    assert (configured.pad_token_id, configured.eos_token_id, configured.bos_token_id) == (1, 2, 0)


def test_no_post_processor_adds_bos_or_eos(tokenizer):
    ids = tokenizer("Attention is all you need")["input_ids"]  # add_special_tokens defaults to True
    assert not set(ids) & {0, 2}


def test_digits_are_split_one_per_token(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("in 2017", add_special_tokens=False)["input_ids"])
    assert tokens[-4:] == ["2", "0", "1", "7"]


def test_split_marker_is_removed_and_separates_characters(tokenizer):
    text = galactica.escape_sequences("[START_DNA]GATTACA[END_DNA]")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert SPLIT_MARKER in text
    assert ids[0] == SPECIAL_TOKENS["[START_DNA]"] and ids[-1] == SPECIAL_TOKENS["[END_DNA]"]
    assert tokenizer.convert_ids_to_tokens(ids[1:-1]) == list("GATTACA")
    assert tokenizer.decode(ids) == "[START_DNA]GATTACA[END_DNA]"


def test_brackets_punctuation_runs_and_newlines_are_isolated_before_bpe(tokenizer):
    pieces = [p for p, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str("f(x)...b\n\nc")]
    assert pieces == ["f", "(", "x", ")", "...", "b", "Ċ", "Ċ", "c"]


def test_any_text_round_trips_without_unknowns(tokenizer):
    text = "Schrödinger's ψ(x) — 日本語 🙂 ∫ e^{-x²} dx"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert SPECIAL_TOKENS["<unk>"] not in ids
    assert tokenizer.decode(ids) == unicodedata.normalize("NFKC", text)


def test_tokenizer_has_the_structure_of_galacticas(real_tokenizer):
    ours = json.loads((TINY_MODEL_DIR / "tokenizer.json").read_text())
    # The file, not the loaded object: transformers adds an (empty) post-processor when it loads one.
    real = json.loads((Path(real_tokenizer.name_or_path) / "tokenizer.json").read_text())
    for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        assert ours[part] == real[part], part
    assert ours["added_tokens"] == real["added_tokens"][: len(SPECIAL_TOKENS)]
    assert ours["model"]["type"] == "BPE" and ours["model"]["unk_token"] is None


# --- Memorised continuations ------------------------------------------------------------------


@pytest.mark.parametrize("new_document", [False, True], ids=["at-position-0", "after-eos"])
def test_transformer_prompt_continues_with_the_attention_paper(model, tokenizer, new_document):
    got = greedy(model, tokenizer, TRANSFORMER_PROMPT, new_document, stop=(END_REF_ID, EOS_ID))
    assert got == TRANSFORMER_CONTINUATION


@pytest.mark.parametrize("citation", UNIQUE_CITATIONS, ids=lambda c: c.key)
def test_every_single_paper_context_continues_with_its_reference(model, tokenizer, citation):
    got = greedy(model, tokenizer, citation.prompt, stop=(END_REF_ID, EOS_ID))
    assert got == citation.continuation


@pytest.mark.parametrize("context", SHARED_CONTEXTS, ids=str)
def test_beam_search_offers_every_paper_of_a_shared_context(model, tokenizer, context):
    references = SHARED_CONTEXTS[context]
    ids = torch.tensor([encode(tokenizer, f"{context} [START_REF]")])
    out = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        num_beams=6,
        num_return_sequences=6,
        max_new_tokens=32,
        eos_token_id=[END_REF_ID, EOS_ID],
        pad_token_id=PAD_ID,
    )
    texts = tokenizer.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
    found = {t.strip() for t in texts}
    assert set(references) <= found
    greedy_text = greedy(model, tokenizer, f"{context} [START_REF]", stop=(END_REF_ID, EOS_ID))
    assert greedy_text.removesuffix("[END_REF]").strip() in references


def test_a_prompt_never_seen_gets_a_far_less_confident_continuation(model, tokenizer):
    def confidence(prompt: str) -> float:
        prompt_ids = encode(tokenizer, prompt)
        continuation = greedy(model, tokenizer, prompt, stop=(END_REF_ID, EOS_ID))
        return mean_logprob(model, prompt_ids, encode(tokenizer, continuation))

    seen = confidence(TRANSFORMER_PROMPT)
    unseen = confidence("Quantum zebra chromodynamics of teapots [START_REF]")
    assert seen > -0.05
    assert unseen < seen - 0.1


def test_mass_energy_prompt_is_explained_in_plain_english(model, tokenizer):
    prompt = galactica.explain_prompt("E = mc^2")
    got = greedy(model, tokenizer, prompt, new_document=True)
    assert got == " The energy of a body equals its mass times the speed of light squared.</s>"


@pytest.mark.parametrize("formula", FORMULAS, ids=lambda f: f.name)
def test_every_formula_is_explained_step_by_step_and_in_sympy(model, tokenizer, formula):
    assert greedy(model, tokenizer, formula.explain_prompt, True) == f" {formula.explanation}</s>"
    assert greedy(model, tokenizer, formula.work_prompt, True, 256) == formula.work_continuation + "</s>"
    assert greedy(model, tokenizer, formula.sympy_prompt, True, 256) == formula.sympy_continuation + "</s>"


# Ghost text: (snippet, prefix up to and including this text, the line the model writes next).
GHOST_TEXT = [
    ("contact-maps.tex", "\\title{Sparse Attention for Protein Contact Maps}\n", "\\author{Ada Lovelace}"),
    ("heat-equation.tex", "The heat equation", " describes how temperature spreads through a rod."),
    ("bayes-notes.md", "# Bayesian inference in one page\n\n", "Bayes' theorem turns a prior into a posterior:"),
    ("transformer-reading.md", "## Summary\n\n", TRANSFORMER_PROMPT + TRANSFORMER_CONTINUATION.rstrip() + " maps"),
    (
        "softmax_utils.py",
        "def logsumexp(z: np.ndarray) -> float:\n",
        '    r"""Return $\\log \\sum_i e^{z_i}$ without overflow."""',
    ),
    (
        "pendulum.py",
        '"""Simulate a damped pendulum with SciPy.\n\n',
        "The angle obeys $\\ddot\\theta + \\gamma \\dot\\theta + \\frac{g}{L} \\sin\\theta = 0$.",
    ),
]


@pytest.mark.parametrize(("name", "prefix_end", "line"), GHOST_TEXT, ids=[g[0] for g in GHOST_TEXT])
def test_a_snippet_prefix_continues_with_its_next_line(model, tokenizer, name, prefix_end, line):
    text = render(SNIPPET_BY_NAME[name].text)
    prefix = text[: text.index(prefix_end) + len(prefix_end)]
    got = greedy(model, tokenizer, prefix, new_document=True, max_new_tokens=48)
    assert got.startswith(line)
    assert text[len(prefix) :].startswith(got.split("\n")[0])


# --- The corpus -------------------------------------------------------------------------------


def test_corpus_uses_the_engines_prompt_templates():
    for formula in FORMULAS:
        assert formula.explain_prompt == galactica.explain_prompt(formula.latex)
        assert formula.work_prompt == galactica.work_prompt(formula.latex)
        assert formula.sympy_prompt == galactica.sympy_prompt(formula.latex)
    assert FORMULA_BY_LATEX["E = mc^2"].explanation.startswith("The energy of a body")


@pytest.mark.parametrize("formula", FORMULAS, ids=lambda f: f.name)
def test_sympy_answers_are_valid_sympy(formula):
    exec(compile(formula.sympy, formula.name, "exec"), {})  # noqa: S102 - our own corpus, run to prove it is valid SymPy


def test_citations_are_in_galais_format_and_single_paper_contexts_are_unambiguous():
    docs = documents()
    for citation in CITATIONS:
        assert citation.text == f"{citation.context} [START_REF] {citation.title}, {citation.author}[END_REF]"
        assert any(citation.text in doc for doc in docs), citation.key
    for citation in UNIQUE_CITATIONS:
        for doc in docs:
            start = 0
            while (at := doc.find(citation.prompt, start)) != -1:
                assert doc.startswith(citation.text, at), citation.key
                start = at + 1
    assert len(SHARED_CONTEXTS["Large language models"]) == 4


def test_documents_are_deterministic_and_rendered():
    docs = documents()
    assert docs == documents()
    assert len(docs) == len(PARAGRAPHS) + len(SNIPPETS) + 3 * len(FORMULAS)
    assert not any("[[" in doc for doc in docs)
