"""Continue the paragraph: the next sentences of running text, written by the model.

LSP methods: this feature's part of ``textDocument/codeAction`` ("Continue
paragraph", in prose and only when asked), and ``workspace/executeCommand``
for ``galactica.continueParagraph`` (arguments :class:`ParagraphArguments`),
which reports ``$/progress``, stops when the editor cancels it, and inserts
the text through ``workspace/applyEdit``.
"""

from __future__ import annotations

from lsprotocol import types

from ..analysis.context import prompt_before
from ..engine.types import DecodeSettings, Generation, Priority
from .arguments import arguments
from .commands import command, insert_text, open_at
from .features import Feature, prose_action
from .progress import WorkDone, cancellable
from .server import GalacticaServer, OpenDocument

CONTINUE = "galactica.continueParagraph"
# A paragraph ends at a blank line, or where a heading, section or display environment starts.
PARAGRAPH_STOPS = ("\n\n", "\n\\section", "\n\\subsection", "\n\\begin{", "\n#")


@arguments
class ParagraphArguments:
    """``galactica.continueParagraph``: continue the text before ``position``."""

    uri: str
    position: types.Position


def paragraph_text(gen: Generation) -> str:
    """What "continue paragraph" inserts: the generation, ending at a full sentence when cut short."""
    text = gen.text.rstrip()
    if gen.finish_reason in ("length", "time") and ". " in text:
        text = text[: text.rindex(". ") + 1]  # not mid-word
    return text


def code_actions(ls: GalacticaServer, doc: OpenDocument, start: int, end: int,
                 params: types.CodeActionParams) -> list[types.CodeAction]:
    return prose_action(ls, doc, end, params, "Continue paragraph", CONTINUE)


def register(server: GalacticaServer) -> None:
    @command(server, CONTINUE)
    async def continue_command(ls: GalacticaServer, a: ParagraphArguments):
        """Write the next sentences of the paragraph at a position."""
        doc, offset = open_at(ls, a.uri, a.position)
        prompt = prompt_before(doc.text, offset, doc.language, ls.settings.context_tokens)
        settings = DecodeSettings(max_new_tokens=ls.settings.explain_max_tokens, stop_strings=PARAGRAPH_STOPS,
                                  time_limit=ls.settings.time_limit)
        async with WorkDone(ls, "Galactica: continue paragraph", cancellable=True) as bar:
            gens = await cancellable(
                ls.model(lambda g, c: g.complete(prompt.text, settings, c, new_document=prompt.starts_document,
                                                 budget=ls.settings.context_tokens),
                         Priority.BACKGROUND, "continue paragraph", supersede=(doc.uri, "continue")),
                bar.cancelled_by,
            )
        text = paragraph_text(gens[0])
        inserted = bool(text) and await insert_text(ls, doc, offset, text, "Galactica: continue paragraph")
        return {"text": text, "inserted": inserted}


FEATURE = Feature("paragraph", register=register, code_actions=code_actions)
