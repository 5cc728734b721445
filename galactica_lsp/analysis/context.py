"""The prompt before the cursor.

Owns: choosing the text the model sees for a completion, built outward from
the cursor up to a budget, per language: never more than the budget's worth
of characters is looked at (a 10 MB document costs the same as a small one),
the window starts at a line start (on a coarse grid, so that it stays put
while the user types), and LaTeX comment lines are left out (they
are notes to self, not the paper). Also the checks that a window is text at
all (a binary file opened as text gets no completion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Galactica's tokenizer averages well under 8 characters a token on prose and
# LaTeX, so this many characters always hold at least the token budget; the
# engine then keeps exactly the last ``budget`` tokens.
CHARS_PER_TOKEN = 8

_LATEX_COMMENT_LINE = re.compile(r"^[ \t]*%.*(?:\r\n|\r|\n)", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    text: str
    starts_document: bool  # the window reaches the start of the file: Galactica's new-document mode


def prompt_before(text: str, offset: int, language: str, budget_tokens: int) -> Prompt:
    """The text before ``offset`` that fits the budget, cut at a line start."""
    offset = min(max(offset, 0), len(text))
    start = max(0, offset - budget_tokens * CHARS_PER_TOKEN)
    if start > 0:
        # Snapped to a grid of a quarter window: successive keystrokes see the
        # same start, so their prompts share a prefix and the engine's cache of it.
        grid = max(1, budget_tokens * CHARS_PER_TOKEN // 4)
        start = -(-start // grid) * grid
        newline = text.find("\n", start, offset)
        start = newline + 1 if newline != -1 else start
    window = text[start:offset]
    if language in ("latex", "tex", "plaintex"):
        window = _LATEX_COMMENT_LINE.sub("", window)
    return Prompt(window, starts_document=start == 0)


def looks_binary(text: str) -> bool:
    """NUL bytes, or mostly control characters: a binary file opened as text."""
    if "\x00" in text:
        return True
    sample = text[:4096]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f")
    return bool(sample) and controls / len(sample) > 0.1
