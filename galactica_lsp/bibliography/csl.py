"""CSL-JSON and CSL-YAML bibliographies: pandoc's and Quarto's ``bibliography: refs.json`` / ``refs.yaml``.

Owns :func:`parse_csl_json` and :func:`parse_csl_yaml`: the items as
:class:`~.model.BibEntry` (``id`` → key, ``title`` with CSL's rich-text tags
removed, ``author`` — else ``editor`` — names with their
``dropping-particle`` and ``non-dropping-particle``, or ``literal``; the
year of ``issued`` in any of its shapes; ``container-title``; ``DOI``), each
with the lines it spans, and a :class:`~.model.BibProblem` for every item
that is not an object, has no ``id`` or an ``id`` used before (skipped), or a
field of the wrong shape (the field ignored). A syntax error keeps the items
before it (JSON) or reports where it is (YAML).

A CSL-JSON file is a list of items (Zotero's "CSL JSON" export), or an
object holding one under ``items`` or ``references``; a CSL-YAML file is a
list of items or a mapping with ``references:`` (``pandoc -t csljson``,
``pandoc -s -t markdown`` of a bibliography). YAML is read with PyYAML's safe
loader (libyaml's when present): no Python objects are ever built.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from .model import (
    CSL_JSON,
    CSL_YAML,
    DUPLICATE_KEY,
    MALFORMED,
    NO_KEY,
    BibEntry,
    BibProblem,
    Bibliography,
    Person,
)

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_RICH_TEXT = re.compile(r"</?(?:i|b|sup|sub|sc|span)(?:\s[^<>]*)?>", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_LISTS = ("references", "items")

# (item, first line, last line), 0-based.
Item = tuple[object, int, int]


class _BadJSON(Exception):
    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset, self.message = offset, message


def parse_csl_json(text: str, path: Path | None = None) -> Bibliography:
    """The items of a CSL-JSON file's text, and its problems."""
    items: list[Item] = []
    problems: list[BibProblem] = []
    lines = _LineOf(text)
    try:
        _json_items(text, items, lines)
    except _BadJSON as bad:
        line = lines(bad.offset)
        kept = f" ({len(items)} items before it are used)" if items else ""
        problems.append(BibProblem(line, line, f"not valid CSL-JSON: {bad.message}{kept}", MALFORMED))
    return _bibliography(items, problems, path, CSL_JSON)


def parse_csl_yaml(text: str, path: Path | None = None) -> Bibliography:
    """The items of a CSL-YAML file's text, and its problems."""
    loader = _SAFE_LOADER(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line if mark is not None else 0
        reason = " ".join(str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part)
        return Bibliography.of(path, [], [BibProblem(line, line, f"not valid YAML: {reason or exc}", MALFORMED)],
                               format=CSL_YAML)
    finally:
        loader.dispose()
    if data is None:
        return Bibliography.of(path, [], [], format=CSL_YAML)
    if isinstance(data, dict) and isinstance(data.get("references"), list):
        node = next(value for key, value in root.value if key.value == "references")
        data = data["references"]
    elif isinstance(data, list):
        node = root
    else:
        return Bibliography.of(path, [], [BibProblem(
            0, 0, "not a CSL-YAML bibliography: expected a list of items, or `references:` with one", MALFORMED)],
            format=CSL_YAML)
    items = [(item, n.start_mark.line, _last_line(n)) for item, n in zip(data, node.value)]
    return _bibliography(items, [], path, CSL_YAML)


def _last_line(node: yaml.Node) -> int:
    end = node.end_mark
    return max(node.start_mark.line, end.line - 1 if end.column == 0 else end.line)


class _LineOf:
    """The 0-based line of an offset in a text."""

    def __init__(self, text: str):
        self.text, self.offset, self.line = text, 0, 0

    def __call__(self, offset: int) -> int:
        if offset < self.offset:
            self.offset, self.line = 0, 0
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def _json_items(text: str, items: list[Item], lines: _LineOf) -> None:
    """Read the item list of a CSL-JSON text into ``items``, item by item, so that each has its lines."""
    at = _JSON_SPACE.match(text).end()
    if at == len(text):
        return
    if text[at] == "[":
        at = _json_array(text, at, items, lines)
    elif text[at] == "{":
        at = _json_object(text, at, items, lines)
    else:
        raise _BadJSON(at, "expected a list of items (`[{\"id\": …}, …]`)")
    at = _JSON_SPACE.match(text, at).end()
    if at != len(text):
        raise _BadJSON(at, "text after the end of the list")


def _value(text: str, at: int) -> tuple[object, int]:
    try:
        return json.JSONDecoder().raw_decode(text, at)
    except json.JSONDecodeError as exc:
        raise _BadJSON(exc.pos, exc.msg) from None
    except RecursionError:
        raise _BadJSON(at, "nested too deeply") from None


def _json_array(text: str, at: int, items: list[Item], lines: _LineOf) -> int:
    at = _JSON_SPACE.match(text, at + 1).end()
    if text.startswith("]", at):
        return at + 1
    while True:
        value, end = _value(text, at)
        items.append((value, lines(at), lines(end)))
        at = _JSON_SPACE.match(text, end).end()
        if text.startswith("]", at):
            return at + 1
        if not text.startswith(",", at):
            raise _BadJSON(at, "expected `,` or `]` after an item")
        at = _JSON_SPACE.match(text, at + 1).end()


def _json_object(text: str, at: int, items: list[Item], lines: _LineOf) -> int:
    """An object holding the item list under ``items`` or ``references``; its other members skipped."""
    found = False
    at = _JSON_SPACE.match(text, at + 1).end()
    while not text.startswith("}", at):
        key, at = _value(text, at)
        at = _JSON_SPACE.match(text, at).end()
        if not isinstance(key, str) or not text.startswith(":", at):
            raise _BadJSON(at, "expected `\"name\": value` in an object")
        at = _JSON_SPACE.match(text, at + 1).end()
        if key in _LISTS and not found and text.startswith("[", at):
            at, found = _json_array(text, at, items, lines), True
        else:
            at = _value(text, at)[1]
        at = _JSON_SPACE.match(text, at).end()
        if text.startswith(",", at):
            at = _JSON_SPACE.match(text, at + 1).end()
        elif not text.startswith("}", at):
            raise _BadJSON(at, "expected `,` or `}` in an object")
    if not found:
        raise _BadJSON(at, "expected a list of items, or an object with one under `items` or `references`")
    return at + 1


def _bibliography(items: Iterable[Item], problems: list[BibProblem], path: Path | None, format: str) -> Bibliography:
    entries: list[BibEntry] = []
    seen: set[str] = set()
    for number, (item, line, end) in enumerate(items, 1):
        entry = _entry(item, number, line, end, problems)
        if entry is None:
            continue
        if entry.key in seen:
            problems.append(BibProblem(line, end, f"duplicate id {entry.key!r}: this item is ignored, "
                                                  "the first one with that id is used", DUPLICATE_KEY))
            continue
        seen.add(entry.key)
        entries.append(entry)
    return Bibliography.of(path, entries, problems, format=format)


def _entry(item: object, number: int, line: int, end: int, problems: list[BibProblem]) -> BibEntry | None:
    def problem(message: str, code: str = MALFORMED) -> None:
        problems.append(BibProblem(line, end, message, code))

    if not isinstance(item, dict):
        problem(f"item {number} is not an object (`{{\"id\": …, \"title\": …}}`): skipped")
        return None
    key = item.get("id")
    if isinstance(key, bool) or not isinstance(key, (str, int, float)):
        if key is None:
            problem(f"item {number} has no `id`, so it cannot be cited: skipped", NO_KEY)
        else:
            problem(f"item {number}: `id` is not text or a number: skipped")
        return None
    key = str(key).strip()
    if not key:
        problem(f"item {number} has an empty `id`, so it cannot be cited: skipped", NO_KEY)
        return None

    def text(name: str) -> str:
        value = item.get(name)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = value[0]  # some exporters write a list of one
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problem(f"`{key}`: `{name}` is not text: ignored")
            return ""
        return " ".join(_RICH_TEXT.sub("", str(value)).split())

    names = item.get("author") or item.get("editor")
    return BibEntry(
        key=key,
        entry_type=text("type").lower(),
        title=text("title"),
        authors=_people(key, names, problem),
        year=_year(item.get("issued")),
        line=line,
        container=text("container-title"),
        doi=text("DOI") or text("doi"),
    )


def _people(key: str, names: object, problem) -> tuple[Person, ...]:
    if names is None:
        return ()
    if not isinstance(names, list):
        problem(f"`{key}`: the names are not a list (`[{{\"family\": …, \"given\": …}}]`): ignored")
        return ()
    found = []
    for name in names:
        if isinstance(name, str) and name.strip():
            found.append(Person(" ".join(name.split())))
            continue
        if not isinstance(name, dict):
            problem(f"`{key}`: a name is not an object (`{{\"family\": …, \"given\": …}}`): ignored")
            continue
        part = {k: " ".join(str(v).split()) for k, v in name.items() if isinstance(v, (str, int)) and str(v).strip()}
        if part.get("family"):
            particle = " ".join(p for p in (part.get("dropping-particle"), part.get("non-dropping-particle")) if p)
            found.append(Person(part["family"], particle, part.get("given", ""), part.get("suffix", "")))
        elif part.get("literal") or part.get("given"):  # a corporate name, or a mononym written as a given name
            found.append(Person(part.get("literal") or part["given"]))
        else:
            problem(f"`{key}`: a name has neither `family` nor `literal`: ignored")
    return tuple(found)


def _year(issued: object) -> str:
    """The year of a CSL date: ``{"date-parts": [[2017, 6]]}``, ``{"raw": "2017-06"}``, ``2017``, a YAML date."""
    if isinstance(issued, list):
        return _year(issued[0]) if issued else ""
    if isinstance(issued, (datetime.date, datetime.datetime)):
        return f"{issued.year:04d}"
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return _year(parts[0][0])
        for name in ("year", "raw", "literal"):
            if name in issued:
                return _year(issued[name])
        return ""
    if isinstance(issued, int) and not isinstance(issued, bool):
        return f"{issued:04d}" if 0 < issued < 10_000 else ""
    found = _YEAR.search(issued) if isinstance(issued, str) else None
    return found.group() if found else ""
