r"""Which ``.bib`` files a document cites from.

Owns: reading the names a document gives (LaTeX ``\bibliography{a,b}`` and
``\addbibresource[…]{a.bib}`` outside comments; a Markdown, Quarto or MyST
front-matter ``bibliography:`` key, one name or a list), resolving them, and
the fallback. The order, first hit wins for the stub writer's default:

1. the names in the document, relative to the document's folder (then to the
   workspace folders); ``\bibliography{refs}`` means ``refs.bib``;
2. the ``galactica.bibliography`` setting: paths, absolute or relative to
   the workspace folders (``~`` expanded);
3. only when 1 and 2 give no existing file: ``*.bib`` in the document's
   folder, then in the workspace folder holding the document (a few levels
   down, hidden folders and ``node_modules`` skipped, at most
   :data:`MAX_FALLBACK` files).

Names that do not resolve to a file are returned as missing, so the server
can say so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..analysis.language import LATEX, MARKDOWN, dialect

MAX_FALLBACK = 50
FALLBACK_DEPTH = 3
_SKIPPED_FOLDERS = {"node_modules", "__pycache__", "_build", "build", "dist", "site-packages"}

_LATEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_LATEX_BIB = re.compile(
    r"\\(?P<command>bibliography|addbibresource|addglobalbib|addsectionbib)\s*(?:\[[^\]]*\]\s*)?\{(?P<names>[^{}]*)\}"
)
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(?P<body>.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_YAML_KEY = re.compile(r"^bibliography[ \t]*:[ \t]*(?P<value>[^\n#]*)", re.MULTILINE)
_YAML_ITEM = re.compile(r"[ \t]*-[ \t]+(?P<item>[^\n#]+)")


@dataclass(frozen=True)
class Found:
    """The ``.bib`` files for a document, in order, and the names that matched no file."""

    paths: tuple[Path, ...]
    missing: tuple[str, ...]
    how: str  # "document" | "setting" | "fallback" | "none"


def named_bibliographies(text: str, language: str) -> list[str]:
    """The bibliography names a document gives, as written (``refs`` for ``\\bibliography{refs}``)."""
    kind = dialect(language)
    names: list[str] = []
    if kind == LATEX or (kind == MARKDOWN and "\\bibliography" in text):
        for match in _LATEX_BIB.finditer(_LATEX_COMMENT.sub("", text)):
            for name in match["names"].split(","):
                name = name.strip()
                if name:
                    names.append(name if match["command"] != "bibliography" or name.endswith(".bib") else name + ".bib")
    if kind == MARKDOWN:
        names += _front_matter_names(text)
    return list(dict.fromkeys(names))


def _front_matter_names(text: str) -> list[str]:
    front = _FRONT_MATTER.match(text)
    if front is None:
        return []
    body = front["body"]
    key = _YAML_KEY.search(body)
    if key is None:
        return []
    value = key["value"].strip()
    if value.startswith("[") and value.endswith("]"):
        return [_unquote(v) for v in value[1:-1].split(",") if _unquote(v)]
    if value:
        return [_unquote(value)]
    names = []
    for line in body[key.end() :].split("\n")[1:]:
        item = _YAML_ITEM.match(line)
        if item is None:
            if line.strip():
                break
            continue
        names.append(_unquote(item["item"]))
    return [n for n in names if n]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value.strip()


def find_bibliographies(
    document: Path | None,
    text: str,
    language: str,
    setting: Sequence[str] = (),
    workspace_roots: Sequence[Path] = (),
) -> Found:
    """The ``.bib`` files for a document at ``document`` (None: not a file) with this text."""
    folder = document.parent if document is not None else None
    paths: list[Path] = []
    missing: list[str] = []
    for name in named_bibliographies(text, language):
        found = _resolve(name, [folder] if folder else [], workspace_roots)
        paths.append(found) if found else missing.append(name)
    how = "document" if paths else "setting"
    for name in setting:
        found = _resolve(name, [], workspace_roots)
        paths.append(found) if found else missing.append(name)
    if paths:
        return Found(tuple(dict.fromkeys(paths)), tuple(missing), how)
    fallback = _fallback(folder, _root_of(document, workspace_roots))
    return Found(tuple(fallback), tuple(missing), "fallback" if fallback else "none")


def _resolve(name: str, folders: Iterable[Path], roots: Sequence[Path]) -> Path | None:
    path = Path(os.path.expanduser(name))
    candidates = [path] if path.is_absolute() else [base / path for base in [*folders, *roots]]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


def _root_of(document: Path | None, roots: Sequence[Path]) -> Path | None:
    """The workspace folder holding the document (the deepest one), if any."""
    if document is None:
        return roots[0] if len(roots) == 1 else None
    holding = [r for r in roots if document.is_relative_to(r)]
    return max(holding, key=lambda r: len(r.parts)) if holding else None


def _fallback(folder: Path | None, root: Path | None) -> list[Path]:
    found: list[Path] = []
    if folder is not None and folder.is_dir():
        found += sorted(p.resolve() for p in folder.glob("*.bib") if p.is_file())
    if root is not None and root.is_dir():
        found += _walk(root)
    return list(dict.fromkeys(found))[:MAX_FALLBACK]


def _walk(root: Path) -> list[Path]:
    """``*.bib`` under ``root``, breadth first, a few levels down, skipping hidden and build folders."""
    found: list[Path] = []
    level = [root]
    for _ in range(FALLBACK_DEPTH):
        below: list[Path] = []
        for folder in level:
            try:
                children = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for child in children:
                if child.name.startswith(".") or child.name in _SKIPPED_FOLDERS:
                    continue
                if child.is_dir(follow_symlinks=False):
                    below.append(Path(child.path))
                elif child.name.endswith(".bib") and child.is_file():
                    found.append(Path(child.path).resolve())
                    if len(found) >= MAX_FALLBACK:
                        return found
        level = below
    return found
