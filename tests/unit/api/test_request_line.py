"""A request line past Twisted's 16 KiB is answered with a JSON 414 (daphne's channel), not a silent hang-up."""

from __future__ import annotations

import json

from twisted.internet.testing import StringTransport
from twisted.web import http

from eda_console.request_line import LINE_LIMIT, request_line_limit_answer_install


def _answer(data: bytes) -> bytes:
    request_line_limit_answer_install()
    channel = http.HTTPChannel()
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(data)
    return bytes(transport.value())


def test_a_request_line_longer_than_the_limit_is_answered_414_in_the_error_shape() -> None:
    answer = _answer(b"GET /api/me?" + b"a" * (LINE_LIMIT + 10) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert b"Connection: close" in head
    assert json.loads(body)["error"]["code"] == "uri_too_long"


def test_a_header_line_longer_than_the_limit_is_answered_431() -> None:
    answer = _answer(b"GET / HTTP/1.1\r\nX-Big: " + b"b" * (LINE_LIMIT + 10) + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
