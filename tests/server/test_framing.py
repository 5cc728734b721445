"""LSP's base protocol read from a broken byte stream: every valid frame comes out, whatever came before it."""

from __future__ import annotations

import logging

import pytest

from galactica_lsp.server.protocol import FrameReader, envelope_error

BODY = b'{"jsonrpc":"2.0","id":1,"method":"x"}'
NEXT = b'{"jsonrpc":"2.0","id":2,"method":"y"}'


def frame(body: bytes, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    return header % len(body) + body


def read(stream: bytes, pieces: int | None = None, max_body: int = 1 << 20) -> list[bytes]:
    """All bodies, feeding the stream whole or one byte at a time (``pieces`` = 1)."""
    reader = FrameReader(max_body)
    if pieces is None:
        return reader.feed(stream)
    out: list[bytes] = []
    for i in range(0, len(stream), pieces):
        out += reader.feed(stream[i:i + pieces])
    return out


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Length: %d\r\n\r\n",
        b"content-length: %d\r\n\r\n",  # header names are case-insensitive
        b"CONTENT-LENGTH:%d\r\n\r\n",  # no space
        b"Content-Length:   %d  \r\n\r\n",
        b"Content-Length: %d\n\n",  # LF alone
        b"Content-Length: %d\r\n\n",
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n",
        b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
    ],
)
@pytest.mark.parametrize("pieces", [None, 1, 7])
def test_headers_clients_send(header, pieces):
    assert read(frame(BODY, header) + frame(NEXT), pieces) == [BODY, NEXT]


@pytest.mark.parametrize(
    "before",
    [
        b"garbage",  # no newline: the old reader waited for one
        b"garbage\r\n",
        b"\r\n\r\n",
        b"Content-Type: text/plain\r\n\r\n{}",  # a header block without a length
        b"Content-Length: 12\r\n{no blank line}",  # a header block that never ends
        b"\x00\xff" * 500,
    ],
)
@pytest.mark.parametrize("pieces", [None, 1])
def test_garbage_before_a_frame_is_skipped(before, pieces, caplog):
    with caplog.at_level(logging.WARNING, logger="galactica_lsp.server.protocol"):
        assert read(before + frame(BODY) + frame(NEXT), pieces) == [BODY, NEXT]
    assert "skipped" in caplog.text


def test_a_length_too_large_ends_at_the_next_header(caplog):
    with caplog.at_level(logging.WARNING, logger="galactica_lsp.server.protocol"):
        bodies = read(b"Content-Length: 500\r\n\r\n" + BODY + b"\r\n" + frame(NEXT))
    assert bodies == [BODY, NEXT]
    assert "Content-Length said 500" in caplog.text


def test_a_length_too_small_gives_a_short_body_and_the_next_frame():
    bodies = read(b"Content-Length: 10\r\n\r\n" + BODY + frame(NEXT))
    assert bodies == [BODY[:10], NEXT]  # the short body is answered with a parse error by the protocol


@pytest.mark.parametrize("pieces", [None, 4096])
def test_a_frame_over_the_limit_is_skipped_without_holding_it(pieces, caplog):
    reader = FrameReader(max_body=1000)
    with caplog.at_level(logging.WARNING, logger="galactica_lsp.server.protocol"):
        out = reader.feed(b"Content-Length: 100000000000000\r\n\r\n")
        for _ in range(50):
            out += reader.feed(b"x" * 4096)
            assert len(reader._buffer) <= 4096 + 64
        out += reader.feed(frame(NEXT))
    assert out == [NEXT]
    assert "over the 1000-byte limit" in caplog.text


def test_a_whole_oversized_frame_is_counted_off():
    big = b'{"x":"' + b"a" * 5000 + b'"}'
    assert read(frame(big) + frame(NEXT), max_body=1000) == [NEXT]


def test_a_body_that_mentions_content_length_in_a_string_is_kept():
    body = b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"t":"Content-Length: 5\\r\\n\\r\\n"}}'
    assert read(frame(body) + frame(NEXT), 3) == [body, NEXT]


def test_an_empty_body():
    assert read(frame(b"") + frame(NEXT)) == [b"", NEXT]


VALID = "valid"


@pytest.mark.parametrize(
    "message,answer",
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "x"}, VALID),
        ({"jsonrpc": "2.0", "method": "x", "params": []}, VALID),
        ({"jsonrpc": "2.0", "id": 1, "result": None}, VALID),  # a response: never answered
        ({"id": 4, "method": "x"}, 4),
        ({"jsonrpc": "1.0", "id": "a", "method": "x"}, "a"),
        ({"jsonrpc": "2.0", "id": 5, "method": 7}, 5),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}, None),
        ({"jsonrpc": "2.0", "id": [1], "method": "x"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "x"}, None),
        ({"jsonrpc": "2.0", "id": 6, "method": "x", "params": 3}, 6),
        ({"jsonrpc": "2.0"}, None),
        ("a string", None),
    ],
)
def test_which_messages_are_invalid_requests(message, answer):
    """(the id to answer with, a sentence) for each invalid message; None for valid ones."""
    result = envelope_error(message)
    if answer == VALID:
        assert result is None
    else:
        assert result is not None and result[0] == answer and type(result[0]) is type(answer) and result[1]
