"""The one typed settings object, fully defaulted and documented field by field.

Owns: :class:`Settings` (snake_case in Python, camelCase on the wire, section
``galactica`` in ``workspace/configuration``), reading it from a JSON-like
dict where every bad value is reported by name and reason while its default is
kept, and the table the README shows. The VS Code extension's
``contributes.configuration`` and the Neovim example use the same names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .engine.catalogue import SIZES, TINY
from .engine.ct2 import ENGINES
from .engine.devices import DEVICES, DTYPES
from .engine.vllm_backend import REMOTE_ENGINES
from .verify import SOURCES as VERIFY_SOURCES
from .verify import check_endpoints
from .verify.verifier import DEFAULT_TIMEOUT as VERIFY_TIMEOUT

SECTION = "galactica"
LANGUAGES = ("latex", "markdown", "python")


def _setting(default, doc: str, check: Callable[[Any], str | None] | None = None):
    """A field with its documentation and a check that returns the reason a value is bad."""
    factory = (lambda: list(default)) if isinstance(default, (list, tuple)) else None
    factory = (lambda: dict(default)) if isinstance(default, dict) else factory
    meta = {"doc": doc, "check": check}
    if factory:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _one_of(options) -> Callable[[Any], str | None]:
    return lambda v: None if v in options else f"must be one of {', '.join(map(str, options))}"


def _between(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}"


def _model_name(value: str) -> str | None:
    return None if value.strip() else "must name a size, a hub id or a directory"


def _endpoint_url(value: str) -> str | None:
    parts = urlsplit(value.strip())
    if not value.strip() or (parts.scheme in ("http", "https") and parts.hostname and not parts.username):
        return None
    return "must be an http:// or https:// URL with a host and no credentials (the key goes in GALACTICA_LSP_API_KEY)"


def _paths(value: list) -> str | None:
    return None if all(isinstance(v, str) and v.strip() for v in value) else "must be a list of file paths"


def _languages(value: list) -> str | None:
    unknown = [v for v in value if v not in LANGUAGES]
    return f"unknown language(s) {', '.join(map(str, unknown))}: use {', '.join(LANGUAGES)}" if unknown else None


def _verify_sources(value: list) -> str | None:
    unknown = [v for v in value if v not in VERIFY_SOURCES]
    if unknown:
        return f"unknown source(s) {', '.join(map(str, unknown))}: use {', '.join(VERIFY_SOURCES)}"
    return None


def _endpoints(value: dict) -> str | None:
    return "; ".join(check_endpoints(value)) or None


@dataclass(frozen=True)
class Settings:
    model: str = _setting(
        "base", f"Model: a size ({', '.join([*SIZES, TINY])}), a hub id or a local directory.", _model_name
    )
    device: str = _setting("auto", "auto (CUDA, then MPS, then CPU), cuda, mps or cpu.", _one_of(DEVICES))
    dtype: str = _setting(
        "auto", "auto (bf16, else fp16, on GPUs; on a CPU with bf16 units bf16 weights for a model of 50M parameters"
        " or more, about 2.5× faster than float32, may differ where tokens are nearly tied; float32 for smaller"
        " models and on other CPUs), float32 (throughout: the reference output), float16, or bfloat16.",
        _one_of(DTYPES)
    )
    engine: str = _setting(
        "auto", "What decodes greedy and sampled text: auto (torch, measured the faster), torch,"
        " ctranslate2, or ctranslate2-int8 (int8 weights: faster on a CPU, may differ slightly); beams always run"
        " on torch; vllm: a vLLM server at galactica.endpoint decodes everything.", _one_of(ENGINES + REMOTE_ENGINES)
    )
    max_new_tokens: int = _setting(32, "Tokens generated for a completion.", _between(1, 1024))
    context_tokens: int = _setting(768, "Prompt budget in tokens, built outward from the cursor.", _between(16, 8192))
    suggestions: int = _setting(
        3, "Completions offered when you ask for them (invoking ghost text, cycling through it, opening the menu by"
        " hand); ghost text as you type is one greedy suggestion, the fastest.", _between(1, 10)
    )
    citation_suggestions: int = _setting(5, "References suggested at a citation.", _between(1, 10))
    citation_menu_wait: float = _setting(
        1.0, "Seconds the menu at a citation waits for Galactica's suggestions before it opens with your own library"
        " alone (they join as you type, or when you open the menu again); without a library it waits for them.",
        _between(0.0, 600.0),
    )
    diversity: float = _setting(
        1.0, "Diverse beam search penalty for references (0: plain beam search).", _between(0.0, 10.0)
    )
    temperature: float = _setting(
        0.0, "Sampling temperature for completions beyond the first (0: beams, deterministic).", _between(0.0, 2.0)
    )
    top_p: float = _setting(0.95, "Nucleus sampling cut-off.", _between(0.0, 1.0))
    top_k: int = _setting(0, "Top-k sampling cut-off (0: none).", _between(0, 1000))
    languages: list = _setting(list(LANGUAGES), "Languages the server completes in.", _languages)
    inline: bool = _setting(True, "Offer ghost text (inline completions).")
    hover: bool = _setting(True, "Explain formulas on hover.")
    complete_in_comments: bool = _setting(False, "Also complete inside LaTeX comments.")
    citation_threshold: float = _setting(
        0.1,
        "Probability (0–1) the model gives a suggested reference below which it is marked as likely made up.",
        _between(0.0, 1.0),
    )
    bibliography: list = _setting(
        [],
        "`.bib` files used with those the document names (absolute, or relative to the workspace folder);"
        " with neither, `*.bib` files near the document are used.",
        _paths,
    )
    bib_match_threshold: float = _setting(
        0.85,
        "Title similarity (0–1) from which a suggested reference counts as an entry of your bibliography.",
        _between(0.5, 1.0),
    )
    time_limit: float = _setting(8.0, "Wall-clock cap in seconds for one generation.", _between(0.1, 600.0))
    explain_max_tokens: int = _setting(160, "Tokens generated for an explanation.", _between(8, 2048))
    verify: list = _setting(
        [],
        f"Sources that suggested references are checked against ({', '.join(VERIFY_SOURCES)}), in order;"
        " empty: no checks, nothing sent. Only a suggestion's title and first author are sent.",
        _verify_sources,
    )
    verify_endpoints: dict = _setting(
        {}, "Base URL per source, for mirrors and proxies, e.g. {\"crossref\": \"https://api.crossref.org\"}.",
        _endpoints,
    )
    verify_timeout: float = _setting(
        VERIFY_TIMEOUT, "Seconds to wait for one source's answer when checking a suggested reference.", _between(0.5, 120.0)
    )
    endpoint: str = _setting(
        "", "With engine vllm: the vLLM server's URL (http:// or https://, e.g. https://vllm.example.org); its API"
        " key comes from the environment variable GALACTICA_LSP_API_KEY.", _endpoint_url,
    )

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _type_of(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}[str(f.type)]


def parse(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from a wire dict (camelCase; snake_case accepted), and one message per bad value.

    A bad value keeps the current value (the default on first read); unknown keys are reported too.
    """
    base = base or Settings()
    if raw is None:
        return base, []
    if not isinstance(raw, dict):
        return base, [f"settings must be an object, got {type(raw).__name__}"]
    fields = {camel(f.name): f for f in dataclasses.fields(Settings)}
    fields.update({f.name: f for f in dataclasses.fields(Settings)})
    changes, errors = {}, []
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            errors.append(f"{SECTION}.{key}: unknown setting (ignored)")
            continue
        value, reason = _checked(f, value)
        if reason:
            errors.append(f"{SECTION}.{camel(f.name)}: {reason}; kept {getattr(base, f.name)!r}")
            continue
        changes[f.name] = value
    return base.replace(**changes), errors


def _checked(f: dataclasses.Field, value: Any) -> tuple[Any, str | None]:
    """The value (an int where a float is wanted becomes a float), and why it is bad, or None."""
    wanted = _type_of(f)
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        return value, f"expected {wanted.__name__}, got {value!r}"
    reason = f.metadata["check"](value) if f.metadata["check"] else None
    return value, f"{value!r} {reason}" if reason else None


def problem(name: str, value: Any) -> str | None:
    """Why ``value`` is bad for the setting ``name`` (snake_case), or None: the rules ``parse`` applies."""
    return _checked(next(f for f in dataclasses.fields(Settings) if f.name == name), value)[1]


def to_wire(settings: Settings) -> dict:
    return {camel(f.name): getattr(settings, f.name) for f in dataclasses.fields(Settings)}


def markdown_table() -> str:
    """The README's settings table, made from the fields themselves."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for f in dataclasses.fields(Settings):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rows.append(f"| `{SECTION}.{camel(f.name)}` | `{json.dumps(default)}` | {f.metadata['doc']} |")
    return "\n".join(rows)
