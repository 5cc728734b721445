"""What a feature contributes to the LSP methods several features share.

Owns: :class:`Feature`, the parts one feature module gives (its own methods
and commands; what it does when a document opens, changes, is saved or
closes, and when the settings change; its code actions), and what code-action
parts share: the kind of Galactica's actions and when prose actions are
offered. ``setup`` registers each shared method once and asks every feature
for its part, so features never call one another for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types

from ..analysis.gate import in_prose
from ..settings import Settings
from .commands import wire_position
from .server import GalacticaServer, OpenDocument

ACTION_KIND = types.CodeActionKind.Refactor + ".galactica"

DocumentEvent = Callable[[GalacticaServer, str], None]  # (server, uri)
CodeActions = Callable[[GalacticaServer, OpenDocument, int, int, types.CodeActionParams], list[types.CodeAction]]


@dataclass(frozen=True)
class Feature:
    """One feature's parts; each is optional. Offsets given to ``code_actions`` are the requested range's."""

    name: str
    register: Callable[[GalacticaServer], None] | None = None  # the methods and commands only it answers
    opened: DocumentEvent | None = None
    changed: DocumentEvent | None = None
    saved: DocumentEvent | None = None
    closed: DocumentEvent | None = None
    settings_changed: Callable[[GalacticaServer, Settings], None] | None = None  # (server, previous settings)
    code_actions: CodeActions | None = None


def code_action(title: str, command: str, argument: dict) -> types.CodeAction:
    """A Galactica action that runs one of our commands with one argument object."""
    return types.CodeAction(title=f"Galactica: {title}", kind=ACTION_KIND,
                            command=types.Command(title=title, command=command, arguments=[argument]))


def prose_action(ls: GalacticaServer, doc: OpenDocument, end: int, params: types.CodeActionParams, title: str,
                 command: str) -> list[types.CodeAction]:
    """An action on the prose before ``end`` (its argument: ``{uri, position}``), or none where it does not belong.

    Citations and paragraphs belong in running text, not in code, math or a preamble; and only when asked
    (Ctrl+. or a menu), or the editor's light bulb would sit on every line of prose.
    """
    if params.context.trigger_kind == types.CodeActionTriggerKind.Automatic or not in_prose(doc.text, end, doc.language):
        return []
    return [code_action(title, command, {"uri": doc.uri, "position": wire_position(doc.position(end, ls.encoding))})]
