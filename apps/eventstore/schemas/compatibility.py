"""Can a new schema version read what the previous one wrote?

Two checks, both must pass. A structural walk names the field for the usual mistakes (a
new field without a default, a changed type). Then fastavro's schema resolution has the
last word: sample data covering every union branch and enum symbol is written with the
previous schema and read back with the new one as reader schema.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError

from apps.eventstore.errors import SchemaIncompatible
from apps.eventstore.schemas.catalogue import SchemaCatalogue
from apps.eventstore.schemas.upcasters import UPCASTERS, Upcaster
from apps.eventstore.schemas.validation import DataInvalid, validator_compile

# Avro's allowed promotions: writer type -> reader types that can read it.
_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}
_STRUCTURAL = {"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "array", "map", "enum"}


@dataclass(frozen=True)
class CompatibilityResult:
    """The outcome of checking one step ``from_version`` -> ``to_version`` of an event type."""

    event_type: str
    from_version: int
    to_version: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def schema_compatibility_check(
    *, previous: dict[str, Any], candidate: dict[str, Any], upcast: Upcaster | None = None
) -> None:
    """Raise :class:`SchemaIncompatible` unless ``candidate`` can read data written with ``previous``.

    With ``upcast``, also require that the upcaster turns every sample of ``previous``
    into data that ``candidate`` accepts.
    """
    problem = _structural_problem(previous, candidate, path="")
    if problem:
        raise SchemaIncompatible(problem)
    writer = fastavro.parse_schema(previous)
    reader = fastavro.parse_schema(candidate)
    for sample in avro_samples(previous):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer, sample)
        buffer.seek(0)
        try:
            fastavro.schemaless_reader(buffer, writer, reader)
        except SchemaResolutionError as exc:
            raise SchemaIncompatible(f"fastavro cannot resolve the schemas: {_shorten(str(exc))}") from exc
    if upcast is not None:
        check = validator_compile(candidate)
        for sample in avro_samples(previous):
            try:
                check(upcast(sample))
            except DataInvalid as exc:
                raise SchemaIncompatible(f"the upcaster's output: field {exc.path!r}: {exc.problem}") from exc


def schema_catalogue_check(*, catalogue: SchemaCatalogue) -> list[CompatibilityResult]:
    """Check every consecutive pair of versions in ``catalogue``, with the registered upcasters."""
    results = []
    for event_type, versions in sorted(catalogue.schemas.items()):
        for version in range(1, max(versions)):
            upcast = UPCASTERS.get((event_type, version))
            problems = []
            try:
                schema_compatibility_check(
                    previous=versions[version].schema, candidate=versions[version + 1].schema, upcast=upcast
                )
            except SchemaIncompatible as exc:
                problems.append(str(exc))
            if upcast is None:
                problems.append(f"no upcaster registered for v{version} -> v{version + 1}")
            results.append(CompatibilityResult(event_type, version, version + 1, "; ".join(problems) or None))
    return results


def avro_samples(schema: Any) -> list[Any]:
    """Data for ``schema`` that visits every union branch and enum symbol at least once."""
    count = max(2, _choice_count(schema, set()))
    return [_sample(schema, index, {}) for index in range(count)]


def _type_name(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, Mapping):
        return _type_name(schema["type"])
    return str(schema)


def _structural_problem(writer: Any, reader: Any, *, path: str) -> str | None:
    writer_kind, reader_kind = _type_name(writer), _type_name(reader)
    if writer_kind not in _STRUCTURAL or reader_kind not in _STRUCTURAL:
        return None  # Unions and references to named types: fastavro decides.
    if writer_kind != reader_kind and reader_kind not in _PROMOTIONS.get(writer_kind, set()):
        where = f"field {path!r}" if path else "the event"
        return f"{where}: type changed from {writer_kind} to {reader_kind}, which cannot read the old data"
    if writer_kind == "record" and isinstance(writer, Mapping) and isinstance(reader, Mapping):
        written = {field["name"]: field for field in writer["fields"]}
        for field in reader["fields"]:
            name = field["name"]
            child = f"{path}.{name}" if path else name
            aliases = set(field.get("aliases", []))
            old = written.get(name) or next((written[a] for a in aliases if a in written), None)
            if old is None:
                if "default" not in field:
                    return f"field {child!r} is new and has no default, so data written before cannot be read"
                continue
            problem = _structural_problem(old["type"], field["type"], path=child)
            if problem:
                return problem
    if writer_kind == "array" and isinstance(writer, Mapping) and isinstance(reader, Mapping):
        return _structural_problem(writer["items"], reader["items"], path=f"{path}[]")
    if writer_kind == "map" and isinstance(writer, Mapping) and isinstance(reader, Mapping):
        return _structural_problem(writer["values"], reader["values"], path=f"{path}[]")
    return None


def _choice_count(schema: Any, seen: set[str]) -> int:
    if isinstance(schema, list):
        return max([len(schema), *(_choice_count(branch, seen) for branch in schema)])
    if not isinstance(schema, Mapping):
        return 1
    kind = schema["type"]
    if kind == "enum":
        return len(schema["symbols"])
    if kind == "record":
        if schema["name"] in seen:
            return 1
        seen.add(schema["name"])
        return max([1, *(_choice_count(field["type"], seen) for field in schema["fields"])])
    if kind == "array":
        return _choice_count(schema["items"], seen)
    if kind == "map":
        return _choice_count(schema["values"], seen)
    return _choice_count(kind, seen)


def _sample(schema: Any, index: int, named: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return _sample(schema[index % len(schema)], index, named)
    if isinstance(schema, str):
        primitives: dict[str, Any] = {
            "null": None,
            "boolean": index % 2 == 0,
            "int": index,
            "long": index,
            "float": 0.5 + index,
            "double": 0.5 + index,
            "string": f"s{index}",
            "bytes": b"b",
        }
        if schema in primitives:
            return primitives[schema]
        return _sample(named[schema.rsplit(".", 1)[-1]], index, named)
    kind = schema["type"]
    if kind == "record":
        named.setdefault(str(schema["name"]).rsplit(".", 1)[-1], schema)
        return {field["name"]: _sample(field["type"], index, named) for field in schema["fields"]}
    if kind == "enum":
        named.setdefault(str(schema["name"]).rsplit(".", 1)[-1], schema)
        return schema["symbols"][index % len(schema["symbols"])]
    if kind == "array":
        return [_sample(schema["items"], index, named), _sample(schema["items"], index + 1, named)]
    if kind == "map":
        return {"k": _sample(schema["values"], index, named)}
    if kind == "fixed":
        return b"\0" * int(schema["size"])
    return _sample(kind, index, named)


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
