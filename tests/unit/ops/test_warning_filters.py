"""pytest ignores only the DeprecationWarnings of kafka-python's schema loader; the same call elsewhere warns."""

from __future__ import annotations

import importlib.resources
import warnings

from kafka.protocol.schemas.load_json import load_json

SCHEMAS = "kafka.protocol.schemas.resources"


def test_kafkas_schema_loading_is_silent_but_the_same_deprecated_call_elsewhere_warns() -> None:
    # record=True keeps the filters pytest set up from pyproject.toml.
    with warnings.catch_warnings(record=True) as caught:
        load_json("ApiVersionsRequest", package=SCHEMAS)
        importlib.resources.read_text(SCHEMAS, "ApiVersionsRequest.json")

    shown = [(str(warning.message).split(" ")[0], warning.filename) for warning in caught]
    assert shown == [("read_text", __file__)]
