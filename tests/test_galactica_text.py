"""Galactica's text rules, checked against the real tokenizer from ../shared."""

from __future__ import annotations

import pytest

from galactica_lsp.engine.galactica import (
    SPECIAL_TOKENS,
    SPLIT_MARKER,
    Reference,
    TokenizerMismatch,
    clean_reference,
    configure_tokenizer,
    decode,
    escape_sequences,
    find_references,
    new_document,
    reference_prompt,
)


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_transformer_prompt_encodes_to_the_published_ids(real_tokenizer):
    assert ids(real_tokenizer, "The Transformer architecture [START_REF]") == [592, 23121, 5219, 243, 4]


def test_configure_sets_pad_eos_bos_and_left_padding(real_tokenizer):
    assert (real_tokenizer.pad_token_id, real_tokenizer.eos_token_id, real_tokenizer.bos_token_id) == (1, 2, 0)
    assert real_tokenizer.padding_side == "left"
    batch = real_tokenizer(["a", "a longer text here"], padding=True, add_special_tokens=False)["input_ids"]
    assert batch[0][0] == 1 and batch[1][0] != 1  # the short row is padded on the left with <pad>


@pytest.mark.parametrize("token,expected", sorted(SPECIAL_TOKENS.items(), key=lambda kv: kv[1]))
def test_every_special_token_is_one_token_with_its_id(real_tokenizer, token, expected):
    assert ids(real_tokenizer, token) == [expected]


def test_a_tokenizer_with_other_ids_is_refused():
    class Wrong:
        def convert_tokens_to_ids(self, token):
            return 7

    with pytest.raises(TokenizerMismatch, match="<s>"):
        configure_tokenizer(Wrong())


def test_digits_are_one_token_each(real_tokenizer):
    tokens = real_tokenizer.convert_ids_to_tokens(ids(real_tokenizer, "12345"))
    assert tokens == ["1", "2", "3", "4", "5"]


def test_superscript_is_folded_by_nfkc_unless_marked(real_tokenizer):
    assert ids(real_tokenizer, "x²⁵") == ids(real_tokenizer, "x25")
    marked = ids(real_tokenizer, "x[START_SUP]25[END_SUP]")
    assert marked[1] == SPECIAL_TOKENS["[START_SUP]"] and marked[-1] == SPECIAL_TOKENS["[END_SUP]"]
    assert marked != ids(real_tokenizer, "x25")


def test_escaped_dna_span_is_one_token_per_base(real_tokenizer):
    raw = "[START_DNA]ACGTTGCAAC[END_DNA]"
    escaped = escape_sequences(raw)
    assert escaped == "[START_DNA]" + "".join(SPLIT_MARKER + b for b in "ACGTTGCAAC") + SPLIT_MARKER + "[END_DNA]"
    tokens = real_tokenizer.convert_ids_to_tokens(ids(real_tokenizer, escaped))
    assert tokens == ["[START_DNA]", *"ACGTTGCAAC", "[END_DNA]"]
    # Unescaped, BPE merges bases into longer tokens.
    assert len(ids(real_tokenizer, raw)) < len(tokens)


@pytest.mark.parametrize("kind", ["AMINO", "SMILES", "I_SMILES"])
def test_other_sequence_spans_are_escaped(real_tokenizer, kind):
    body = "MKTAYIAK" if kind == "AMINO" else "CC(=O)O"
    text = f"see [START_{kind}]{body}[END_{kind}] here"
    tokens = real_tokenizer.convert_ids_to_tokens(ids(real_tokenizer, escape_sequences(text)))
    start = tokens.index(f"[START_{kind}]")
    assert tokens[start + 1 : start + 1 + len(body)] == list(body)
    assert tokens[start + 1 + len(body)] == f"[END_{kind}]"


def test_an_open_sequence_span_at_the_end_is_escaped_too():
    assert escape_sequences("[START_DNA]AC") == f"[START_DNA]{SPLIT_MARKER}A{SPLIT_MARKER}C"


def test_text_outside_sequence_spans_is_untouched():
    text = "The [START_REF] Title, A[END_REF] and ACGT outside."
    assert escape_sequences(text) == text


def test_new_document_mode_prepends_eos_once():
    assert new_document("Hello") == "</s>Hello"
    assert new_document("</s>Hello") == "</s>Hello"


def test_decode_keeps_markers_and_drops_padding(real_tokenizer):
    text = "The Transformer architecture [START_REF] Attention is All you Need, Vaswani[END_REF]"
    assert decode(real_tokenizer, [1, 1] + ids(real_tokenizer, text) + [2]) == text


@pytest.mark.parametrize(
    "text,prompt",
    [
        ("The Transformer architecture", "The Transformer architecture [START_REF]"),
        ("The Transformer architecture ", "The Transformer architecture [START_REF]"),
        ("The Transformer architecture [START_REF]", "The Transformer architecture [START_REF]"),
        ("As in [START_REF] Attention is", "As in [START_REF] Attention is"),  # an open reference is continued
        ("A [START_REF] T, X[END_REF] and B", "A [START_REF] T, X[END_REF] and B [START_REF]"),
        ("", "[START_REF]"),
        ("Word embeddings [START_REF]\n\nRecurrent networks", "Word embeddings [START_REF]\n\nRecurrent networks [START_REF]"),
    ],
)
def test_reference_prompt_follows_galai_rules(text, prompt):
    assert reference_prompt(text) == prompt


def test_clean_reference_stops_at_end_ref_and_strips():
    assert clean_reference(" Attention is All you Need, Vaswani[END_REF] more") == "Attention is All you Need, Vaswani"


def test_reference_splits_title_and_first_author_at_the_last_comma():
    ref = Reference("Deep Learning, Theory and Practice, LeCun")
    assert (ref.title, ref.author) == ("Deep Learning, Theory and Practice", "LeCun")
    assert Reference("Untitled").author is None


def test_find_references_gives_offsets_and_parts():
    text = "A [START_REF] Attention is All you Need, Vaswani[END_REF] and [START_REF] Adam, Kingma[END_REF]."
    spans = find_references(text)
    assert [s.reference.text for s in spans] == ["Attention is All you Need, Vaswani", "Adam, Kingma"]
    assert text[spans[0].start : spans[0].end].startswith("[START_REF]")
    assert text[spans[1].end - len("[END_REF]") : spans[1].end] == "[END_REF]"
