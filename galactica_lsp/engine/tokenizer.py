"""Galactica's tokenizer on the ``tokenizers`` library alone.

Owns: :class:`Tokenizer`, the calls the engine makes of a tokenizer
(``tokenizer(text, add_special_tokens=False)["input_ids"]``, ``decode``,
``convert_tokens_to_ids``, ``convert_ids_to_tokens``, ``vocab_size``), answered
by the checkpoint's ``tokenizer.json`` as transformers'
``PreTrainedTokenizerFast`` answers them (it wraps the same object); and
:func:`load_tokenizer`, which reads a checkpoint directory's tokenizer and sets
Galactica's special tokens (``galactica.configure_tokenizer``).

Why not transformers' ``AutoTokenizer``: importing transformers took
seconds of the server's start-up, for a file that ``tokenizers`` reads in
milliseconds. A directory without ``tokenizer.json`` (only a slow
tokenizer's files) still loads, through transformers.
``tests/test_tokenizer.py`` checks both against each other on Galactica's real
tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .galactica import configure_tokenizer

class Tokenizer:
    """A ``tokenizers.Tokenizer`` with the calls transformers' fast tokenizer offers that the engine makes."""

    padding_side = truncation_side = "right"

    def __init__(self, tokenizer):
        self.backend = tokenizer
        self.pad_token = self.eos_token = self.bos_token = None  # as the hub's files leave them: set by configure

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        from tokenizers import Tokenizer as Backend

        return cls(Backend.from_file(str(path)))

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self.backend.encode(text, add_special_tokens=add_special_tokens).ids

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        ids = self.encode(text, add_special_tokens)
        return {"input_ids": ids, "attention_mask": [1] * len(ids)}

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = False) -> str:
        """The text of ``ids``. Spaces are never "cleaned up": transformers skips that for a BPE tokenizer
        (Galactica's) too, since it would strip spaces the text has before punctuation."""
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.backend.id_to_token(int(i)) for i in ids]

    @property
    def vocab_size(self) -> int:
        """The base vocabulary, without added tokens (transformers' ``vocab_size``)."""
        return self.backend.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)


def load_tokenizer(directory: str | Path):
    """The checkpoint's tokenizer, with Galactica's special tokens set (raises ``TokenizerMismatch`` if not its)."""
    path = Path(directory) / "tokenizer.json"
    if path.is_file():
        return configure_tokenizer(Tokenizer.from_file(path))
    from transformers import AutoTokenizer  # only a slow tokenizer's files: transformers builds the fast one

    return configure_tokenizer(AutoTokenizer.from_pretrained(str(directory)))
