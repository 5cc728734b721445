"""Galactica's tokenizer on ``tokenizers`` alone answers as transformers' fast tokenizer does, on the real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from galactica_lsp.engine.galactica import SPECIAL_TOKENS, TokenizerMismatch, configure_tokenizer
from galactica_lsp.engine.tokenizer import Tokenizer, load_tokenizer
from galactica_lsp.tiny import TINY_MODEL_DIR

REAL = Path(os.environ.get("GALACTICA_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "galactica"))
TEXTS = [
    "The Transformer architecture [START_REF]",
    "Attention is all you need, Vaswani [END_REF] and x²⁵ in 2017.",
    "$$\\int_0^1 f(x)\\,dx = \\frac{1}{2}$$\n\n  def f(x):\n\treturn x ** 2  # état, 東京",
    "[START_DNA]G\u200bA\u00a0T[END_DNA] <work> ... !!! --- [START_I_SMILES]C(=O)O[END_I_SMILES]</s>",
    "",
]


@pytest.fixture(scope="module", params=["galactica", "tiny"])
def pair(request):
    directory = REAL / "tokenizer" if request.param == "galactica" else Path(TINY_MODEL_DIR)
    if not (directory / "tokenizer.json").is_file():
        pytest.skip(f"{directory} has no tokenizer.json")
    return load_tokenizer(directory), configure_tokenizer(AutoTokenizer.from_pretrained(str(directory)))


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("special", [False, True])
def test_encodes_and_decodes_as_transformers(pair, text, special):
    ours, theirs = pair
    ids = ours(text, add_special_tokens=special)["input_ids"]
    assert ids == theirs(text, add_special_tokens=special)["input_ids"]
    assert ours.encode(text, add_special_tokens=special) == ids
    for skip in (False, True):
        for clean in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean) == theirs.decode(
                ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean), (skip, clean)
    assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)


def test_the_vocabulary_and_special_tokens_match(pair):
    ours, theirs = pair
    assert (ours.vocab_size, len(ours)) == (theirs.vocab_size, len(theirs))
    for token, expected in SPECIAL_TOKENS.items():
        assert ours.convert_tokens_to_ids(token) == expected == theirs.convert_tokens_to_ids(token)
    assert (ours.pad_token, ours.eos_token, ours.bos_token, ours.padding_side) == ("<pad>", "</s>", "<s>", "left")


def test_the_real_tokenizer_encodes_its_documented_example():
    if not (REAL / "tokenizer" / "tokenizer.json").is_file():
        pytest.skip("no reference tokenizer")
    ours = load_tokenizer(REAL / "tokenizer")
    assert ours("The Transformer architecture [START_REF]", add_special_tokens=False)["input_ids"] == [
        592, 23121, 5219, 243, 4]


def test_a_tokenizer_with_other_special_ids_is_refused(tmp_path):
    from tokenizers import Tokenizer as Backend
    from tokenizers.models import WordLevel

    backend = Backend(WordLevel({"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}, unk_token="<unk>"))
    backend.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(TokenizerMismatch, match="maps <s> to 1, Galactica uses 0"):
        load_tokenizer(tmp_path)
    assert Tokenizer.from_file(tmp_path / "tokenizer.json").convert_tokens_to_ids("[START_REF]") is None
