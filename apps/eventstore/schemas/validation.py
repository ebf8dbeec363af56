"""Compile an Avro schema into a strict checker for the JSON-shaped data of an event.

fastavro's own ``validate`` lets unknown keys through and takes ``True`` for a long, and
its messages do not say where in a nested record the problem is. Event data is JSON, so
the checker here is stricter: every field must be present (defaults are for reading older
versions, not for writing), no key may be unknown, ``bool`` is not a number, and the error
names the field as a path such as ``lines[0].quantity``. The checker is compiled once per
schema into closures, so an append pays a few microseconds per event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Checker = Callable[[Any], None]

_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class DataInvalid(Exception):
    """Data does not match a schema; ``path`` names the field (``lines[0].quantity``)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self._segments: list[str] = []

    def within(self, segment: str) -> DataInvalid:
        # Segments are collected innermost first while the error unwinds.
        self._segments.append(segment)
        return self

    @property
    def path(self) -> str:
        return "".join(reversed(self._segments)).lstrip(".") or "(root)"


def validator_compile(schema: Any) -> Checker:
    """A checker for ``schema`` (the Avro JSON, not fastavro's parsed form)."""
    return _Compiler().compile(schema, namespace="")


def value_kind(value: Any) -> str:
    """How a value shows in an error message: its JSON-ish type and a short repr."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


class _Compiler:
    def __init__(self) -> None:
        self.named: dict[str, Checker] = {}

    def compile(self, schema: Any, *, namespace: str) -> Checker:
        if isinstance(schema, str):
            return self._primitive_or_named(schema, namespace)
        if isinstance(schema, list):
            return self._union([self.compile(branch, namespace=namespace) for branch in schema], schema)
        if not isinstance(schema, Mapping):
            raise ValueError(f"not an Avro schema: {schema!r}")
        kind = schema["type"]
        if kind == "record":
            return self._record(schema, namespace)
        if kind == "enum":
            checker = self._enum(schema)
            self._name(schema, namespace, checker)
            return checker
        if kind == "array":
            return self._array(self.compile(schema["items"], namespace=namespace))
        if kind == "map":
            return self._map(self.compile(schema["values"], namespace=namespace))
        # {"type": "long", "logicalType": ...} and friends: the underlying type decides.
        return self.compile(kind, namespace=namespace)

    def _name(self, schema: Mapping[str, Any], namespace: str, checker: Checker) -> str:
        name = str(schema["name"])
        full = name if "." in name else f"{schema.get('namespace', namespace)}.{name}".lstrip(".")
        self.named[full] = checker
        self.named.setdefault(name.rsplit(".", 1)[-1], checker)
        return full

    def _primitive_or_named(self, name: str, namespace: str) -> Checker:
        if name in _RANGES:
            return _integer(name)
        if name in {"float", "double"}:
            return _number
        if name == "string":
            return _string
        if name == "boolean":
            return _boolean
        if name == "null":
            return _null
        if name in {"bytes", "fixed"}:
            raise ValueError(f"event data is JSON: Avro type {name!r} cannot be stored")
        key = name if name in self.named else f"{namespace}.{name}"
        if key not in self.named:
            raise ValueError(f"unknown Avro type {name!r}")
        named = self.named
        return lambda value: named[key](value)

    def _record(self, schema: Mapping[str, Any], namespace: str) -> Checker:
        fields: list[tuple[str, Checker]] = []
        record_name = str(schema["name"]).rsplit(".", 1)[-1]

        def check_record(value: Any) -> None:
            if not isinstance(value, dict):
                raise DataInvalid(f"expected an object ({record_name} record), got {value_kind(value)}")
            if value.keys() != names:
                _report_keys(value, fields, names)
            for field_name, check in fields:
                try:
                    check(value[field_name])
                except DataInvalid as exc:
                    raise exc.within(f".{field_name}") from None

        full = self._name(schema, namespace, check_record)
        inner_namespace = full.rsplit(".", 1)[0] if "." in full else ""
        for field in schema["fields"]:
            fields.append((field["name"], self.compile(field["type"], namespace=inner_namespace)))
        names = frozenset(name for name, _ in fields)
        checker = _record_fast_path(schema["fields"], fields, names, check_record)
        for key in [key for key, named in self.named.items() if named is check_record]:
            self.named[key] = checker
        return checker

    def _enum(self, schema: Mapping[str, Any]) -> Checker:
        symbols = frozenset(schema["symbols"])
        listed = ", ".join(schema["symbols"])

        def check_enum(value: Any) -> None:
            if not isinstance(value, str) or value not in symbols:
                raise DataInvalid(f"expected one of {listed}, got {value_kind(value)}")

        return check_enum

    def _array(self, items: Checker) -> Checker:
        def check_array(value: Any) -> None:
            if not isinstance(value, list | tuple):
                raise DataInvalid(f"expected an array, got {value_kind(value)}")
            for index, item in enumerate(value):
                try:
                    items(item)
                except DataInvalid as exc:
                    raise exc.within(f"[{index}]") from None

        return check_array

    def _map(self, values: Checker) -> Checker:
        def check_map(value: Any) -> None:
            if not isinstance(value, dict):
                raise DataInvalid(f"expected a map (an object), got {value_kind(value)}")
            for key, item in value.items():
                if not isinstance(key, str):
                    raise DataInvalid(f"map keys must be strings, got {value_kind(key)}")
                try:
                    values(item)
                except DataInvalid as exc:
                    raise exc.within(f"[{key}]") from None

        return check_map

    def _union(self, branches: list[Checker], schema: list[Any]) -> Checker:
        described = ", ".join(b if isinstance(b, str) else str(b.get("name", b.get("type"))) for b in schema)
        non_null = [check for check, branch in zip(branches, schema, strict=True) if branch != "null"]
        nullable = len(non_null) < len(branches)

        def check_union(value: Any) -> None:
            if value is None and nullable:
                return
            if len(non_null) == 1:
                # An optional value: the one real branch explains the problem best.
                non_null[0](value)
                return
            for check in non_null:
                try:
                    check(value)
                except DataInvalid:
                    continue
                return
            raise DataInvalid(f"expected one of [{described}], got {value_kind(value)}")

        return check_union


def _record_fast_path(
    schema_fields: list[Mapping[str, Any]],
    fields: list[tuple[str, Checker]],
    names: frozenset[str],
    check_record: Checker,
) -> Checker:
    """``check_record`` behind straight-line code compiled for the record: one call per event, not one per field.

    The fast path only answers "valid" (plain types tested inline, other fields by their
    checkers); anything it doubts goes to ``check_record``, which names the problem.
    """
    lines = [
        "def check(value):",
        "    if type(value) is not dict or value.keys() != names:",
        "        return check_record(value)",
    ]
    scope: dict[str, Any] = {"names": names, "check_record": check_record, "DataInvalid": DataInvalid}
    for index, ((name, checker), field) in enumerate(zip(fields, schema_fields, strict=True)):
        test = _inline_test(field["type"])
        if test is None:
            scope[f"check_{index}"] = checker
            lines += [
                "    try:",
                f"        check_{index}(value[{name!r}])",
                "    except DataInvalid:",
                "        return check_record(value)",
            ]
        else:
            lines += [f"    v = value[{name!r}]", f"    if not ({test}):", "        return check_record(value)"]
    exec("\n".join(lines), scope)  # noqa: S102 - the code is built above from field names and fixed tests
    check: Checker = scope["check"]
    return check


def _inline_test(avro_type: Any) -> str | None:
    """A Python expression on ``v`` that is true only for valid values of a plain type, or None."""
    if isinstance(avro_type, Mapping) and set(avro_type) <= {"type", "logicalType"}:
        avro_type = avro_type["type"]
    if isinstance(avro_type, list):
        tests = [_inline_test(branch) for branch in avro_type]
        return None if None in tests else " or ".join(f"({test})" for test in tests)
    if not isinstance(avro_type, str):
        return None
    if avro_type in _RANGES:
        low, high = _RANGES[avro_type]
        return f"type(v) is int and {low} <= v <= {high}"
    return _INLINE_TESTS.get(avro_type)


_NUMBER_TEST = "type(v) is int or (type(v) is float and v - v == 0)"  # v - v is nan for inf and nan
_INLINE_TESTS = {
    "string": "type(v) is str",
    "boolean": "v is True or v is False",
    "null": "v is None",
    "float": _NUMBER_TEST,
    "double": _NUMBER_TEST,
}


def _report_keys(value: dict[Any, Any], fields: list[tuple[str, Checker]], names: frozenset[str]) -> None:
    for name, _ in fields:
        if name not in value:
            raise DataInvalid("missing (every field of the schema is required)").within(f".{name}")
    unknown = sorted(str(key) for key in value if key not in names)
    raise DataInvalid("unknown field (not in the schema)").within(f".{unknown[0]}")


def _integer(kind: str) -> Checker:
    low, high = _RANGES[kind]

    def check_integer(value: Any) -> None:
        # bool is a subclass of int; JSON true is not a number.
        if type(value) is not int and (not isinstance(value, int) or isinstance(value, bool)):
            raise DataInvalid(f"expected {kind} (an integer), got {value_kind(value)}")
        if not low <= value <= high:
            raise DataInvalid(f"{value} is out of range for {kind}")

    return check_integer


def _number(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataInvalid(f"expected a number, got {value_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise DataInvalid(f"{value} cannot be stored as JSON")


def _string(value: Any) -> None:
    if not isinstance(value, str):
        raise DataInvalid(f"expected string, got {value_kind(value)}")


def _boolean(value: Any) -> None:
    if value is not True and value is not False:
        raise DataInvalid(f"expected boolean, got {value_kind(value)}")


def _null(value: Any) -> None:
    if value is not None:
        raise DataInvalid(f"expected null, got {value_kind(value)}")
