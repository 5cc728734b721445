"""The settings object: defaults, camelCase on the wire, bad values reported and defaults kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from galactica_lsp.settings import Settings, camel, markdown_table, parse, to_wire


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


def test_bad_values_are_named_with_the_reason_and_the_default_is_kept():
    settings, errors = parse(
        {"maxNewTokens": "many", "device": "tpu", "suggestions": 0, "languages": ["cobol"], "inline": 1, "colour": "red"}
    )
    assert settings == Settings()
    text = "\n".join(errors)
    assert "galactica.maxNewTokens: expected int, got 'many'; kept 32" in text
    assert "galactica.device: 'tpu' must be one of auto, cuda, mps, cpu" in text
    assert "galactica.suggestions: 0 must be between 1 and 10" in text
    assert "unknown language(s) cobol" in text
    assert "galactica.inline: expected bool, got 1" in text
    assert "galactica.colour: unknown setting" in text
    assert len(errors) == 6


def test_a_bad_value_keeps_the_current_value_not_the_default():
    current, _ = parse({"maxNewTokens": 64})
    updated, errors = parse({"maxNewTokens": -1}, current)
    assert updated.max_new_tokens == 64 and len(errors) == 1


def test_settings_that_are_not_an_object_are_reported():
    assert parse(["model"]) == (Settings(), ["settings must be an object, got list"])
    assert parse(None) == (Settings(), [])


def test_the_readme_lists_every_setting():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme
