"""Behaviour under typing: cancellation, supersession, requests during load, settings, model switch."""

from __future__ import annotations

import asyncio
import shutil

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from galactica_lsp.tiny import TINY_MODEL_DIR
from galactica_lsp.tiny.corpus import SNIPPET_BY_NAME

from .conftest import LOAD_TIMEOUT, MODEL, doc_uri, open_document, state_of, wait_ready

# A memorised LaTeX file with no blank line: from its first line the model writes ~300 tokens.
LONG = SNIPPET_BY_NAME["contact-maps.tex"].text.split("\n")[0] + "\n"


def inline_params(uri: str, line: int = 1, character: int = 0) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


def configure(client, **settings) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"galactica": {"model": MODEL, "device": "cpu", **settings}})
    )


async def status(client) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="galactica.status"))


async def last_job(client, outcome: str) -> dict:
    """The worker's record of its last job, once it has that outcome (a cancelled job stops at its next step)."""
    for _ in range(100):
        last = (await status(client))["lastLatencies"][-1]
        if last["outcome"] == outcome:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"last job: {last}")


async def long_generation_ms(client, uri: str) -> float:
    await client.text_document_inline_completion_async(inline_params(uri))
    return (await status(client))["lastLatencies"][-1]["ranMs"]


async def test_cancel_request_stops_the_generation_early(client):
    configure(client, maxNewTokens=400, suggestions=1, timeLimit=60.0)
    uri = doc_uri(client, "long.tex")
    open_document(client, uri, LONG, "latex")
    full_ms = await long_generation_ms(client, uri)  # too long a guess only costs a retry below

    delay = full_ms / 4000  # a quarter of the way in, to cancel it while it runs
    for attempt in range(5):
        # ensure_future: pytest-lsp's request coroutines send nothing until they are scheduled.
        request = asyncio.ensure_future(client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri), msg_id=f"cancel-me-{attempt}"))
        await asyncio.sleep(delay)
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"cancel-me-{attempt}"))
        try:
            await request
        except JsonRpcRequestCancelled:
            break
        delay /= 4  # answered before the cancel came (the machine is busy and its pace varies): cancel sooner
    else:
        raise AssertionError("no cancelled request was answered as cancelled")
    # The worker's record of the job: "cancelled" (stopped at a decoding step, or before it ran), not "done".
    await last_job(client, "cancelled")


async def test_a_newer_request_supersedes_the_older_and_both_are_answered(client):
    configure(client, maxNewTokens=400, suggestions=1, timeLimit=60.0)
    uri = doc_uri(client, "super.tex")
    open_document(client, uri, LONG, "latex")
    older = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri)))
    await asyncio.sleep(0.05)
    newer = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri)))
    older_result, newer_result = await asyncio.gather(older, newer)
    assert not older_result.items
    assert newer_result.items and newer_result.items[0].insert_text.startswith("\\usepackage{amsmath}")


async def test_the_server_answers_other_requests_while_a_generation_runs(client):
    configure(client, maxNewTokens=400, suggestions=1, timeLimit=60.0)
    uri = doc_uri(client, "busy.tex")
    open_document(client, uri, LONG, "latex")
    generation = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri)))
    await asyncio.sleep(0.05)
    answered = await status(client)
    assert not generation.done(), "status must come back while the model is still generating"
    assert answered["state"] == "ready"
    await generation


async def test_closing_a_document_while_its_completion_runs_still_answers(client):
    configure(client, maxNewTokens=400, suggestions=1, timeLimit=60.0)
    uri = doc_uri(client, "closing.tex")
    open_document(client, uri, LONG, "latex")
    request = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri)))
    await asyncio.sleep(0.05)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    try:
        result = await asyncio.wait_for(request, LOAD_TIMEOUT)  # a hang guard only
        assert not result.items
    except JsonRpcRequestCancelled:
        pass  # a cancellation error is an answer too


async def test_a_bad_setting_is_named_and_the_server_keeps_serving(client):
    configure(client, maxNewTokens="lots", suggestions=99)
    settings = (await status(client))["settings"]  # answered after the messages about the push
    messages = [m.message for m in client.messages]
    assert any("galactica.maxNewTokens" in m and "expected int" in m for m in messages)
    assert any("galactica.suggestions" in m and "between 1 and 10" in m for m in messages)
    assert settings["maxNewTokens"] == 32 and settings["suggestions"] == 3


async def test_switching_the_model_reloads_with_progress(fresh_client, tmp_path):
    client = fresh_client
    copy = tmp_path / "tiny-copy"
    shutil.copytree(TINY_MODEL_DIR, copy)
    client.status.clear()
    configure(client, model=str(copy))

    def states() -> list[str]:
        return [state_of(s) for s in client.status]

    def reloaded() -> bool:  # "ready" after the last "loading" ("busy"/"ready" of earlier work may interleave)
        seen = states()
        return "loading" in seen and "ready" in seen[len(seen) - seen[::-1].index("loading"):]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOAD_TIMEOUT  # a hang guard only
    while not reloaded() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert reloaded(), states()
    assert (await status(client))["location"] == str(copy)


async def test_requests_before_the_model_is_ready_answer_at_once(lsp_early_client):
    client = lsp_early_client
    uri = "file:///tmp/galactica-lsp-early/early.tex"  # the test's own server: no other test sees it
    open_document(client, uri, LONG, "latex")
    result = await client.text_document_inline_completion_async(inline_params(uri))
    # The answer came before the model was ready: the server's notifications and answers arrive in order.
    seen = [state_of(s) for s in client.status]
    assert not result.items
    assert "ready" not in seen and any(state in ("loading", "empty") for state in seen), seen
    await wait_ready(client)
