"""Answer a request line longer than the server reads with a 414, instead of hanging up.

Daphne parses HTTP with Twisted's ``HTTPChannel``, a ``LineReceiver`` that reads lines
of at most 16 KiB. Past that, ``LineReceiver`` closes the connection without a word, so
a client with a 17 KiB URL sees "connection reset" and no reason. Daphne gives no hook
to choose the channel class, so the channel's answer is set here, from the ASGI module
daphne imports: a JSON 414 in the API's error shape (431 for an over-long header line),
then close. The limit itself stays: 16 KiB of URL is more than any page or client needs.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.web import http

from apps.api.errors import error_body

LINE_LIMIT = http.HTTPChannel.MAX_LENGTH


def _close_with(channel: http.HTTPChannel, status: bytes, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    head = (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    transport: Any = channel.transport  # zope interfaces type poorly; a live channel always has one
    transport.write(head + body)
    channel.loseConnection()


def _line_length_exceeded(channel: http.HTTPChannel, line: bytes) -> None:
    # No line has been read yet when the request line itself is the long one.
    if channel._receivedHeaderSize == 0:
        message = f"the request line (method, URL, version) is longer than {LINE_LIMIT} bytes"
        _close_with(channel, b"414 URI Too Long", "uri_too_long", message)
    else:
        message = f"a request header line is longer than {LINE_LIMIT} bytes"
        _close_with(channel, b"431 Request Header Fields Too Large", "header_too_large", message)


def request_line_limit_answer_install() -> None:
    """Make every Twisted HTTP channel in this process answer an over-long line before closing."""
    http.HTTPChannel.lineLengthExceeded = _line_length_exceeded  # type: ignore[method-assign,assignment]
