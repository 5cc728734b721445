"""Galactica's text rules, all in one place.

Owns: the special tokens and their ids, the tokenizer set-up the hub files lack
(pad 1, eos 2, bos 0, left padding), escaping of ``[START_DNA]``/AMINO/SMILES/
I_SMILES spans so each character is one token, new-document mode (``</s>`` in
front), decoding that keeps Galactica's markers, the galai rules for reference
prompts, and extraction of ``[START_REF] … [END_REF]`` spans. Also the prompt
templates of the tasks the server offers (explain, step by step, SymPy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Token ids fixed by the published tokenizer (identical for all five sizes).
SPECIAL_TOKENS: dict[str, int] = {
    "<s>": 0,
    "<pad>": 1,
    "</s>": 2,
    "<unk>": 3,
    "[START_REF]": 4,
    "[END_REF]": 5,
    "[IMAGE]": 6,
    "<fragments>": 7,
    "</fragments>": 8,
    "<work>": 9,
    "</work>": 10,
    "[START_SUP]": 11,
    "[END_SUP]": 12,
    "[START_SUB]": 13,
    "[END_SUB]": 14,
    "[START_DNA]": 15,
    "[END_DNA]": 16,
    "[START_AMINO]": 17,
    "[END_AMINO]": 18,
    "[START_SMILES]": 19,
    "[END_SMILES]": 20,
    "[START_I_SMILES]": 21,
    "[END_I_SMILES]": 22,
}
BOS_ID, PAD_ID, EOS_ID = 0, 1, 2
START_REF, END_REF = "[START_REF]", "[END_REF]"
START_REF_ID, END_REF_ID = SPECIAL_TOKENS[START_REF], SPECIAL_TOKENS[END_REF]
WORK_OPEN, WORK_CLOSE = "<work>", "</work>"

# The pre-tokenizer drops this marker; putting it between characters makes each one a token.
SPLIT_MARKER = "SPL1T-TH1S-Pl3A5E"
_SEQUENCE_KINDS = ("DNA", "AMINO", "SMILES", "I_SMILES")
# A sequence span, closed or still open at the end of the text (the user may be typing it).
_SEQUENCE_RE = re.compile(r"(\[START_(DNA|AMINO|SMILES|I_SMILES)\])(.*?)(\[END_\2\]|$)", re.DOTALL)
_REF_RE = re.compile(r"\[START_REF\](.*?)\[END_REF\]", re.DOTALL)


class TokenizerMismatch(ValueError):
    """The tokenizer is not Galactica's: its special tokens have other ids."""


def configure_tokenizer(tokenizer):
    """Set what the hub's tokenizer files leave out, as galai does, and check the ids.

    Without pad/eos/bos, batching and beam search on the real model break.
    """
    tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token = "<pad>", "</s>", "<s>"
    tokenizer.padding_side = "left"
    tokenizer.truncation_side = "left"
    for token, expected in SPECIAL_TOKENS.items():
        actual = tokenizer.convert_tokens_to_ids(token)
        if actual != expected:
            raise TokenizerMismatch(f"tokenizer maps {token} to {actual}, Galactica uses {expected}")
    return tokenizer


def escape_sequences(text: str) -> str:
    """Put the split marker between the characters of DNA, protein and SMILES spans."""

    def split(match: re.Match) -> str:
        start, _, body, end = match.groups()
        escaped = "".join(SPLIT_MARKER + ch for ch in body)
        return f"{start}{escaped}{SPLIT_MARKER if end else ''}{end}"

    if "[START_" not in text:
        return text
    return _SEQUENCE_RE.sub(split, text)


def new_document(text: str) -> str:
    """Galactica's new-document mode: the text starts a document, as after ``</s>``."""
    return text if text.startswith("</s>") else "</s>" + text


def decode(tokenizer, ids) -> str:
    """Text of generated ids, keeping Galactica's markers but not padding or ``</s>``."""
    keep = [int(i) for i in ids if int(i) not in (PAD_ID, EOS_ID)]
    return tokenizer.decode(keep, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def reference_prompt(text: str) -> str:
    """The galai rule: end the prompt with ``[START_REF]`` unless an open one already does.

    An open one is a ``[START_REF]`` on the last line with no ``[END_REF]``
    after it: the user may have typed the start of a title, which the model
    then continues. An unclosed one on an earlier line is an old slip, not a
    title being typed.
    """
    last_line = text.rfind("\n") + 1
    last_open = text.rfind(START_REF, last_line)
    if last_open != -1 and END_REF not in text[last_open:]:
        return text
    stripped = text.rstrip()
    return f"{stripped} {START_REF}" if stripped else START_REF


@dataclass(frozen=True)
class Reference:
    """One ``Title, First author`` suggestion."""

    text: str

    @property
    def title(self) -> str:
        return self.text.rsplit(",", 1)[0].strip() if "," in self.text else self.text

    @property
    def author(self) -> str | None:
        return self.text.rsplit(",", 1)[1].strip() or None if "," in self.text else None


def clean_reference(generated: str) -> str:
    """What the model wrote after ``[START_REF]``, up to ``[END_REF]``, stripped."""
    return generated.split(END_REF, 1)[0].replace(START_REF, "").strip()


@dataclass(frozen=True)
class RefSpan:
    start: int
    end: int
    reference: Reference


def find_references(text: str) -> list[RefSpan]:
    """Every ``[START_REF] … [END_REF]`` span in a text, with offsets."""
    return [RefSpan(m.start(), m.end(), Reference(m.group(1).strip())) for m in _REF_RE.finditer(text)]


# Prompt templates. The phrasing follows the Galactica paper's prompts.
def explain_prompt(latex: str) -> str:
    return f"Question: Translate the following math formula: ${latex.strip()}$ into plain English.\n\nAnswer:"


def work_prompt(latex: str) -> str:
    return f"Question: Explain the following math formula step by step: ${latex.strip()}$\n\n{WORK_OPEN}\n"


def sympy_prompt(latex: str) -> str:
    return (
        f"Question: Translate the following math formula: ${latex.strip()}$ into Python code using SymPy."
        "\n\nAnswer:\n```python\n"
    )
