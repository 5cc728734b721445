r"""Which bibliography files a document cites from.

Owns: reading the names a document gives (LaTeX ``\bibliography{a,b}`` and
``\addbibresource[…]{a.bib}`` outside comments; a Markdown, Quarto or MyST
front-matter ``bibliography:`` key, one name or a list, read as YAML),
resolving them, and the fallback. The order, first hit wins for the stub
writer's default:

1. the names in the document, relative to the document's folder (then to the
   workspace folders); ``\bibliography{refs}`` means ``refs.bib``; front
   matter may name CSL-JSON (``refs.json``) and CSL-YAML (``refs.yaml``) files;
2. the ``galactica.bibliography`` setting: paths, absolute or relative to
   the workspace folders (``~`` expanded), ``.bib``, ``.json`` or ``.yaml``;
3. only when 1 and 2 give no usable file: ``*.bib`` (never ``*.json``) in the
   document's folder, then in the workspace folder holding the document (a few
   levels down, hidden folders and ``node_modules`` skipped, at most
   :data:`MAX_FALLBACK` files).

A named file is used only when it is a regular file within the size limit
(:func:`.files.check_file`); every name that cannot be used is returned in
:attr:`Found.skipped` with the reason ("does not exist", "is a FIFO, not a
file", "is 3.1 GB, over the 64 MiB limit", "is RIS: …"), so the server can say
so. Whether a file's content is a bibliography is for :mod:`.parse` to say.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..analysis.language import LATEX, MARKDOWN, dialect
from .files import Unreadable, check_file
from .model import BIBTEX, format_of

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
class Skipped:
    """A bibliography named by the document or the setting that cannot be used, and why."""

    name: str  # as written (``refs.bib`` for ``\\bibliography{refs}``)
    reason: str  # "does not exist", "is a directory", "is a FIFO, not a file", …
    origin: str  # "document" | "setting"
    path: Path | None = None  # the file it names, when there is one (a directory, a FIFO, a huge file)

    @property
    def message(self) -> str:
        """``bibliography `refs.bib` does not exist``; for the setting: ``the galactica.bibliography setting's …``."""
        where = "bibliography" if self.origin == "document" else "the galactica.bibliography setting's"
        return f"{where} `{self.name}` {self.reason}"


@dataclass(frozen=True)
class Found:
    """The bibliography files for a document, in order, and the names that could not be used."""

    paths: tuple[Path, ...]
    skipped: tuple[Skipped, ...]
    how: str  # "document" | "setting" | "fallback" | "none"

    @property
    def missing(self) -> tuple[str, ...]:
        """The names of :attr:`skipped`, as written (what ``missing`` always held)."""
        return tuple(s.name for s in self.skipped)

    @property
    def bibtex_paths(self) -> tuple[Path, ...]:
        """The BibTeX files among :attr:`paths`: those a stub entry may be appended to."""
        return tuple(p for p in self.paths if _format(p) == BIBTEX)


def _format(path: Path) -> str | None:
    try:
        return format_of(path)
    except ValueError:
        return None


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
    try:
        meta = yaml.safe_load(body)
    except (yaml.YAMLError, RecursionError):
        pass  # front matter that is not quite YAML (a template, a typo): the key is read by hand below
    else:
        if not isinstance(meta, dict):
            return []
        value = meta.get("bibliography")
        values = value if isinstance(value, list) else [value]
        return [v.strip() for v in values if isinstance(v, str) and v.strip()]
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
    """The bibliography files for a document at ``document`` (None: not a file) with this text."""
    folder = document.parent if document is not None else None
    paths: list[Path] = []
    skipped: list[Skipped] = []

    def use(name: str, folders: list[Path], origin: str) -> None:
        try:
            paths.append(_resolve(name, folders, workspace_roots))
        except _NotUsable as exc:
            skipped.append(Skipped(name, exc.reason, origin, exc.path))

    for name in named_bibliographies(text, language):
        use(name, [folder] if folder else [], "document")
    how = "document" if paths else "setting"
    for name in setting:
        use(name, [], "setting")
    if paths:
        return Found(tuple(dict.fromkeys(paths)), tuple(skipped), how)
    fallback = _fallback(folder, _root_of(document, workspace_roots))
    return Found(tuple(fallback), tuple(skipped), "fallback" if fallback else "none")


class _NotUsable(Exception):
    def __init__(self, reason: str, path: Path | None = None):
        super().__init__(reason)
        self.reason, self.path = reason, path


def _resolve(name: str, folders: list[Path], roots: Sequence[Path]) -> Path:
    """The usable file a name means, the first place that has one; else why not."""
    try:
        format_of(name)
    except ValueError as exc:
        raise _NotUsable(str(exc)) from None
    path = Path(os.path.expanduser(name))
    candidates = [path] if path.is_absolute() else [base / path for base in [*folders, *roots]]
    if not candidates:
        raise _NotUsable("is a relative path, and there is no document folder or workspace folder to look in")
    first: _NotUsable | None = None
    for candidate in candidates:
        try:
            check_file(candidate)
            return candidate.resolve()
        except Unreadable as exc:
            if first is None and exc.reason != "does not exist":
                first = _NotUsable(exc.reason, candidate)
    if first is not None:
        raise first
    if path.is_absolute():
        raise _NotUsable("does not exist")
    places = " or ".join(["next to the document"] * bool(folders) + ["in a workspace folder"] * bool(roots))
    raise _NotUsable(f"does not exist {places}")


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
