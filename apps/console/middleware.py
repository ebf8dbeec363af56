"""The Content-Security-Policy header on every response.

The console ships no inline script: its JavaScript, htmx and plotly.js are files under
``static/`` and chart figures travel as JSON data blocks. ``'unsafe-eval'`` is not
needed: plotly.js compiles code only for WebGL and map traces, which the console does
not draw (the browser tests fail on any CSP violation). Styles allow ``'unsafe-inline'``:
plotly.js injects its own style rules at run time and draws without them otherwise
(no hover labels or modebar styling), and htmx sets inline styles during swaps.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
