r"""A bibliography file's entries, whatever its format: the one door to reading bibliographies.

Owns :func:`read_bib` (a file from disk: read safely through
:mod:`.files`, so a FIFO, a device, a directory, a file over 64 MiB or a
binary file is one problem saying why, never a hang or an error; the result
carries the :class:`~.files.FileStamp` of the version read) and
:func:`parse_bibliography` (text, e.g. the editor's buffer of the file), both
choosing the reader by the file's extension (:func:`~.model.format_of`):
BibTeX/biblatex (:mod:`.bibtex`), CSL-JSON and CSL-YAML (:mod:`.csl`).
Nothing here writes to a file.

The types and the BibTeX helpers are importable from here too, as before.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .bibtex import latex_to_text, parse_bib, people, surnames
from .csl import parse_csl_json, parse_csl_yaml
from .files import BINARY, Unreadable, read_text_stamped
from .model import (
    BIBTEX,
    CSL_JSON,
    CSL_YAML,
    BibEntry,
    BibProblem,
    Bibliography,
    Person,
    format_of,
)

__all__ = [
    "BibEntry", "BibProblem", "Bibliography", "Person", "latex_to_text", "parse_bib", "parse_bibliography",
    "people", "read_bib", "surnames",
]

_PARSERS = {BIBTEX: parse_bib, CSL_JSON: parse_csl_json, CSL_YAML: parse_csl_yaml}


def parse_bibliography(text: str, path: Path | None = None, format: str | None = None) -> Bibliography:
    """The entries and problems of a bibliography's text, read as ``format`` (default: by ``path``'s extension)."""
    if format is None:
        try:
            format = format_of(path) if path is not None else BIBTEX
        except ValueError as exc:
            return Bibliography.unreadable(path, f"{path} {exc}")
    if "\0" in text:
        return Bibliography.unreadable(path, f"{path or 'this text'} {BINARY}", format=format)
    return _PARSERS[format](text, path)


def read_bib(path: Path) -> Bibliography:
    """A bibliography file from disk, any format; an unusable file is one problem, never an error."""
    try:
        format = format_of(path)
    except ValueError as exc:
        return Bibliography.unreadable(path, f"{path} {exc}")
    try:
        text, stamp = read_text_stamped(path)
    except Unreadable as exc:
        return Bibliography.unreadable(path, str(exc), format=format, stamp=exc.stamp)
    except OSError as exc:  # an I/O error while reading
        return Bibliography.unreadable(path, f"{path} cannot be read ({exc.strerror or exc})", format=format)
    return dataclasses.replace(parse_bibliography(text, path, format), stamp=stamp)
