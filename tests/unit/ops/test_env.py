"""The environment is read as typed values, and a bad value names its variable."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from eda_console.env import env_bool, env_choice, env_float, env_int, env_list, env_str


def test_unset_or_empty_variables_give_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDA_TEST_VALUE", raising=False)
    assert env_int("EDA_TEST_VALUE", 7) == 7
    monkeypatch.setenv("EDA_TEST_VALUE", "  ")
    assert env_str("EDA_TEST_VALUE", "fallback") == "fallback"
    assert env_float("EDA_TEST_VALUE", 2.5) == 2.5
    assert env_bool("EDA_TEST_VALUE", True) is True
    assert env_list("EDA_TEST_VALUE", ["a"]) == ["a"]


def test_set_variables_are_parsed_as_their_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDA_TEST_INT", " 3000 ")
    monkeypatch.setenv("EDA_TEST_FLOAT", "0.25")
    monkeypatch.setenv("EDA_TEST_BOOL", "Off")
    monkeypatch.setenv("EDA_TEST_LIST", "kafka-1:9092, ,kafka-2:9092")
    assert env_int("EDA_TEST_INT", 0) == 3000
    assert env_float("EDA_TEST_FLOAT", 0.0) == 0.25
    assert env_bool("EDA_TEST_BOOL", True) is False
    assert env_list("EDA_TEST_LIST", []) == ["kafka-1:9092", "kafka-2:9092"]


@pytest.mark.parametrize(
    ("reader", "value", "expected"),
    [
        (env_int, "lots", "an integer"),
        (env_int, "1.5", "an integer"),
        (env_float, "fast", "a number"),
        (env_bool, "maybe", "one of 1/true/yes/on or 0/false/no/off"),
    ],
)
def test_a_value_that_is_not_of_its_type_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, reader: Callable[[str, Any], object], value: str, expected: str
) -> None:
    monkeypatch.setenv("RELAY_BATCH_SIZE", value)
    with pytest.raises(ImproperlyConfigured, match=re.escape(f"RELAY_BATCH_SIZE must be {expected}, got '{value}'")):
        reader("RELAY_BATCH_SIZE", 1)


def test_a_choice_is_read_in_lower_case_and_anything_else_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_VALUE_FORMAT", raising=False)
    assert env_choice("KAFKA_VALUE_FORMAT", "json", choices=("json", "avro")) == "json"
    monkeypatch.setenv("KAFKA_VALUE_FORMAT", " Avro ")
    assert env_choice("KAFKA_VALUE_FORMAT", "json", choices=("json", "avro")) == "avro"
    monkeypatch.setenv("KAFKA_VALUE_FORMAT", "protobuf")
    with pytest.raises(ImproperlyConfigured, match="KAFKA_VALUE_FORMAT must be one of json/avro, got 'protobuf'"):
        env_choice("KAFKA_VALUE_FORMAT", "json", choices=("json", "avro"))
