"""What ghost text, the menu and "Continue paragraph" insert: never raw Galactica markup; cut text says so."""

from __future__ import annotations

from galactica_lsp.engine.types import Generation
from galactica_lsp.server.paragraph import CUT_SHORT, paragraph_text


def gen(text: str, finish_reason: str) -> Generation:
    return Generation(text=text, token_ids=(), logprobs=(), finish_reason=finish_reason)


def cite(reference: str) -> str:
    return {"Attention is All you Need, Vaswani": "[@vaswani2017attention]"}.get(reference, "[@made:up]")


def test_a_paragraph_cites_its_references_in_the_document_syntax():
    text = " Transformers use attention [START_REF] Attention is All you Need, Vaswani[END_REF]. They scale."
    assert paragraph_text(gen(text, "eos"), cite) == " Transformers use attention [@vaswani2017attention]. They scale."


def test_a_paragraph_stops_before_a_dangling_reference():
    assert paragraph_text(gen(" Attention helps [START_REF] Atten", "length"), cite) == " Attention helps"


def test_a_paragraph_cut_by_the_time_limit_says_so():
    written = paragraph_text(gen(" One sentence. Another half sent", "time"), cite)
    assert written == " One sentence." + CUT_SHORT


def test_a_finished_paragraph_has_no_marker():
    assert paragraph_text(gen(" One sentence. Two.", "stop"), cite) == " One sentence. Two."


def test_no_work_tags_in_a_paragraph():
    assert paragraph_text(gen("<work> Step one.</work>", "eos"), cite) == " Step one."
