"""The settings object: defaults, camelCase on the wire, bad values reported and the current values kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from galactica_lsp.settings import Settings, camel, markdown_table, parse, problem, to_wire


def test_every_field_has_a_default_and_documentation():
    for f in dataclasses.fields(Settings):
        assert f.metadata["doc"], f.name
    assert Settings().model == "base"


def test_wire_names_are_camel_case():
    assert camel("citation_threshold") == "citationThreshold"
    assert "maxNewTokens" in to_wire(Settings())


def test_good_values_are_taken_and_ints_become_floats_where_floats_are_wanted():
    settings, errors = parse({"model": "tiny", "maxNewTokens": 12, "diversity": 2, "inline": False})
    assert errors == []
    assert (settings.model, settings.max_new_tokens, settings.diversity, settings.inline) == ("tiny", 12, 2.0, False)


def test_bad_values_are_named_with_the_reason_and_the_current_values_are_kept():
    # The current values differ from the defaults, so keeping them cannot pass for resetting to the defaults.
    current = Settings(max_new_tokens=64, device="cpu", suggestions=4, languages=["latex"], inline=False)
    assert all(getattr(current, f) != getattr(Settings(), f)
               for f in ("max_new_tokens", "device", "suggestions", "languages", "inline"))
    settings, errors = parse(
        {"maxNewTokens": "many", "device": "tpu", "suggestions": 0, "languages": ["cobol"], "inline": 1, "colour": "red"},
        current,
    )
    assert settings == current
    assert errors == [
        "galactica.maxNewTokens: expected int, got 'many'; kept 64",
        "galactica.device: 'tpu' must be one of auto, cuda, mps, cpu; kept 'cpu'",
        "galactica.suggestions: 0 must be between 1 and 10; kept 4",
        "galactica.languages: ['cobol'] unknown language(s) cobol: use latex, markdown, python; kept ['latex']",
        "galactica.inline: expected bool, got 1; kept False",
        "galactica.colour: unknown setting (ignored)",
    ]


def test_on_first_read_a_bad_value_keeps_the_default():
    settings, errors = parse({"maxNewTokens": 0})
    assert settings == Settings() and errors == ["galactica.maxNewTokens: 0 must be between 1 and 1024; kept 32"]


def test_a_bad_value_keeps_the_current_value_not_the_default():
    current, _ = parse({"maxNewTokens": 64})
    assert current.max_new_tokens != Settings().max_new_tokens
    updated, errors = parse({"maxNewTokens": -1, "topK": 5}, current)
    assert updated == current.replace(top_k=5)
    assert errors == ["galactica.maxNewTokens: -1 must be between 1 and 1024; kept 64"]


def test_the_command_line_and_the_server_check_a_value_by_the_same_rule():
    assert problem("max_new_tokens", 0) == "0 must be between 1 and 1024"
    assert problem("max_new_tokens", 32) is None
    assert problem("context_tokens", "many") == "expected int, got 'many'"


def test_settings_that_are_not_an_object_are_reported():
    assert parse(["model"]) == (Settings(), ["settings must be an object, got list"])
    assert parse(None) == (Settings(), [])


def test_the_readme_lists_every_setting():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme
