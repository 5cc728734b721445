r"""BibTeX and biblatex files: their entries as plain text, and what is wrong with them.

Owns :func:`parse_bib` (bibtexparser 2: ``@string`` macros resolved, braces
and quotes removed), fields turned from LaTeX into text (pylatexenc, only
where there is a macro to expand: ``{\"o}`` → ö, ``\emph{x}`` → x), names
split into :class:`~.model.Person` parts (``Arnold van Gennep``,
``de la Fontaine, Jean``, ``{van Gennep}, Arnold``: the particle kept), and
the problems, each with its lines:

- a block bibtexparser could not read: skipped;
- a key used twice: the later entry skipped (as BibTeX does);
- a field given twice in one entry (Zotero writes ``annote`` once per note):
  the entry kept, the first value used, as BibTeX does ("I'm ignoring …'s
  extra field"), field names compared case-insensitively;
- an entry without a key (``@Manual{,``): skipped, since it cannot be cited.

Never fatal; nothing here writes to a file.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.middlewares.parsestack import default_parse_stack
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ParsingFailedBlock,
)
from pylatexenc.latex2text import LatexNodes2Text

from .model import (
    BIBTEX,
    DUPLICATE_FIELD,
    DUPLICATE_KEY,
    MALFORMED,
    NO_KEY,
    BibEntry,
    BibProblem,
    Bibliography,
    Person,
)

log = logging.getLogger(__name__)

_LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_NEEDS_LATEX = re.compile(r"[\\$]")
_SPACE = re.compile(r"\s+")
_WRITTEN_TYPE = re.compile(r"@\s*(\w+)")


def latex_to_text(value: str) -> str:
    """A field's LaTeX as text: ``Caf{\\'e} \\emph{Society}`` → ``Café Society``; braces dropped."""
    if _NEEDS_LATEX.search(value):
        try:
            value = _LATEX.latex_to_text(value)
        except Exception as exc:  # pylatexenc is tolerant, but a field must never stop a file loading
            log.debug("cannot read LaTeX %r: %s", value, exc)
    return _SPACE.sub(" ", value.replace("{", "").replace("}", "").replace("~", " ")).strip()


def people(names: str) -> tuple[Person, ...]:
    """The people in a BibTeX ``author`` or ``editor`` field, as text, ``and others`` left out."""
    found = []
    for name in split_multiple_persons_names(names):
        try:
            parts = parse_single_name_into_parts(name, strict=False)
            person = Person(
                family=latex_to_text(" ".join(parts.last)),
                particle=latex_to_text(" ".join(parts.von)),
                given=latex_to_text(" ".join(parts.first)),
                suffix=latex_to_text(" ".join(parts.jr)),
            )
        except Exception:  # an odd name: keep it whole
            person = Person(latex_to_text(name))
        if not person.family and person.particle:  # "von" alone is the whole name
            person = Person(person.particle, given=person.given, suffix=person.suffix)
        if person.family and person.surname.lower() != "others":
            found.append(person)
    return tuple(found)


def surnames(authors: str) -> tuple[str, ...]:
    """The surnames in an ``author`` field, particles kept: ``Ludwig van Beethoven and Noam Shazeer`` →
    (van Beethoven, Shazeer)."""
    return tuple(p.surname for p in people(authors))


def parse_bib(text: str, path: Path | None = None) -> Bibliography:
    """The entries and problems of a ``.bib`` file's text."""
    library = _split(text)
    entries, problems = [], []
    for entry in library.entries:
        fields, repeated = _first_fields(entry)
        if repeated:
            problems.append(BibProblem(
                min(line for _, line in repeated), max(line for _, line in repeated),
                f"`{entry.key or entry.entry_type}` gives {_list(name for name, _ in repeated)} more than once: "
                "the first value is used, as BibTeX does", DUPLICATE_FIELD))
        if not entry.key.strip():
            written = _WRITTEN_TYPE.match(entry.raw)
            kind = written.group(1) if written else entry.entry_type
            problems.append(BibProblem(entry.start_line, _end_line(entry.start_line, entry.raw),
                                       f"this @{kind} entry has no key, so it cannot be cited: "
                                       f"write one after `@{kind}{{`", NO_KEY))
            continue
        names = _text(fields.get("author")) or _text(fields.get("editor"))
        entries.append(BibEntry(
            key=entry.key.strip(),
            entry_type=entry.entry_type.lower(),
            title=latex_to_text(_text(fields.get("title"))),
            authors=people(names),
            year=_year(_text(fields.get("year")) or _text(fields.get("date"))),
            line=entry.start_line,
            container=latex_to_text(_text(fields.get("journal") or fields.get("journaltitle")
                                          or fields.get("booktitle"))),
            doi=_text(fields.get("doi")).strip(),
        ))
    problems += [_problem(block) for block in library.failed_blocks]
    return Bibliography.of(path, entries, problems, format=BIBTEX)


def _split(text: str) -> Library:
    """The library bibtexparser reads, an entry with a field given twice kept (and checked by the caller),
    values joined with ``#`` joined."""
    library: Library = bibtexparser.parse_string(text, parse_stack=[])
    if any(isinstance(block, DuplicateFieldKeyBlock) for block in library.failed_blocks):
        blocks = [b.ignore_error_block if isinstance(b, DuplicateFieldKeyBlock) else b for b in library.blocks]
        library = Library(blocks, fail_on_duplicate_key=False)  # keys registered again, in file order
    strings = {s.key.lower(): s.value for s in library.strings if isinstance(s.value, str)}
    for entry in library.entries:
        for f in entry.fields:
            if isinstance(f.value, str) and "#" in f.value:
                f.value = _concatenated(f.value, strings)
    for middleware in default_parse_stack(allow_inplace_modification=True):
        library = middleware.transform(library=library)
    return library


def _concatenated(value: str, strings: dict[str, str]) -> str:
    """``phys # " Letters"`` as one braced value, ``@string`` macros expanded (an unknown one kept as its name)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(value):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == '"' and depth == 0:
            quoted = not quoted
        elif c == "#" and depth == 0 and not quoted:
            parts.append(value[start:i])
            start = i + 1
    if not parts:
        return value  # a "#" inside braces or quotes: nothing to join
    joined = []
    for part in [*parts, value[start:]]:
        part = part.strip()
        part = strings.get(part.lower(), part).strip()
        if len(part) >= 2 and (part[0], part[-1]) in (("{", "}"), ('"', '"')):
            part = part[1:-1]
        joined.append(part)
    return "{" + "".join(joined) + "}"


def _first_fields(entry: Entry) -> tuple[dict[str, object], list[tuple[str, int]]]:
    """The entry's fields by lower-case name, the first of each name; and the repeats (name, line)."""
    fields: dict[str, object] = {}
    repeated = []
    for f in entry.fields:
        name = f.key.lower()
        if name in fields:
            repeated.append((name, f.start_line))
        else:
            fields[name] = f.value
    return fields, repeated


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _year(value: str) -> str:
    found = re.search(r"(?<!\d)\d{4}(?!\d)", value)
    return found.group() if found else ""


def _list(names) -> str:
    names = list(dict.fromkeys(f"`{n}`" for n in names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _end_line(start: int, raw: str) -> int:
    return start + raw.rstrip().count("\n")


def _problem(block: ParsingFailedBlock) -> BibProblem:
    end = _end_line(block.start_line, block.raw)
    if isinstance(block, DuplicateBlockKeyBlock):
        return BibProblem(block.start_line, end,
                          f"duplicate key {block.key!r}: this entry is ignored, the first one with that key is used",
                          DUPLICATE_KEY)
    reason = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
    return BibProblem(block.start_line, end, f"malformed entry skipped: {reason.strip()}", MALFORMED)
