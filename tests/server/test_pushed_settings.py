"""Settings pushed by the client: a bad value keeps the value in use, a setting left out goes back to the layers below."""

from __future__ import annotations

from galactica_lsp.server.lifecycle import model_key, pushed, section
from galactica_lsp.settings import Settings

LOWER = Settings(model="tiny", device="cpu")  # defaults, command line and initializationOptions


def test_a_bad_value_keeps_the_previous_value_not_the_default():
    current = LOWER.replace(max_new_tokens=64, suggestions=5)
    assert current.max_new_tokens != Settings().max_new_tokens  # else the test could not tell them apart
    updated, errors = pushed({"maxNewTokens": "lots", "suggestions": 99}, current, LOWER)
    assert (updated.max_new_tokens, updated.suggestions) == (64, 5)
    assert errors == [
        "galactica.maxNewTokens: expected int, got 'lots'; kept 64",
        "galactica.suggestions: 99 must be between 1 and 10; kept 5",
    ]


def test_a_setting_left_out_goes_back_to_the_lower_layers():
    current = LOWER.replace(max_new_tokens=64, hover=False)
    updated, errors = pushed({"hover": False}, current, LOWER)
    assert errors == []
    assert updated.max_new_tokens == LOWER.max_new_tokens and updated.hover is False
    assert updated.model == "tiny"  # from the lower layers, not the default "base"


def test_good_values_are_taken_in_both_spellings():
    updated, errors = pushed({"maxNewTokens": 12, "time_limit": 3}, LOWER, LOWER)
    assert errors == [] and (updated.max_new_tokens, updated.time_limit) == (12, 3.0)


def test_a_section_that_is_not_an_object_changes_nothing():
    current = LOWER.replace(max_new_tokens=64)
    assert pushed(["x"], current, LOWER) == (current, ["settings must be an object, got list"])


def test_sections_bare_or_under_galactica_and_the_model_key():
    assert section({"galactica": {"model": "tiny"}}) == {"model": "tiny"}
    assert section({"model": "tiny"}) == {"model": "tiny"}
    assert model_key(LOWER) == ("tiny", "cpu", "auto", "auto")
