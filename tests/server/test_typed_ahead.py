"""Typing ahead into a shown suggestion: the rest of it, without the model."""

from __future__ import annotations

from galactica_lsp.server.completion import Shown, typed_ahead

TEXT = "We use the Transformer\n\nMore."
AT = TEXT.index("\n")
SHOWN = Shown(TEXT, AT, (" architecture of Vaswani", " model", " encoder"))


def typing(typed: str) -> tuple[str, int]:
    return TEXT[:AT] + typed + TEXT[AT:], AT + len(typed)


def test_the_rest_of_each_suggestion_that_starts_with_what_was_typed():
    assert typed_ahead(SHOWN, *typing(" ")) == ["architecture of Vaswani", "model", "encoder"]
    assert typed_ahead(SHOWN, *typing(" arch")) == ["itecture of Vaswani"]
    assert typed_ahead(SHOWN, *typing(" mo")) == ["del"]


def test_nothing_when_the_user_typed_something_else_or_all_of_it():
    assert typed_ahead(SHOWN, *typing(" x")) == []
    assert typed_ahead(SHOWN, *typing(" model")) == []
    assert typed_ahead(SHOWN, TEXT, AT) == []  # nothing typed: a new request, for the model
    assert typed_ahead(None, *typing(" ")) == []


def test_nothing_when_the_text_around_the_cursor_changed():
    text, offset = typing(" arch")
    assert typed_ahead(SHOWN, "I" + text[1:], offset) == []  # an edit before the suggestion
    assert typed_ahead(SHOWN, text + "!", offset) == []  # an edit after it
    assert typed_ahead(SHOWN, text, offset - 1) == []  # the cursor is not at the end of what was typed
