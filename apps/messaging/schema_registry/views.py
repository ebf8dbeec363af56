"""The embedded schema registry: Confluent's REST API, read-only, over the schema catalogue.

Served under ``/schema-registry/`` when ``SCHEMA_REGISTRY_URL`` is empty (``make demo``,
tests; with it set, every route answers 404), so the same clients work against it and against a real registry: point
confluent-kafka's ``SchemaRegistryClient``, ``kafka-avro-console-consumer`` or a Kafka UI
at ``http://<console>/schema-registry``. Answers use the registry's media type and error
bodies (``{"error_code": 40401, "message": ...}``). Schemas are public, as they are on a
registry without authentication: they describe the topic, not its data.

Read-only like a registry in READONLY mode: registering a schema the catalogue already
holds answers its id, anything else is refused with 42205; a new version is a new
``v<N>.avsc`` file. ``POST /compatibility/...`` answers with the project's own rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fastavro
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.eventstore.errors import SchemaIncompatible
from apps.eventstore.schemas import schema_compatibility_check
from apps.messaging.schema_registry.catalogue import (
    RegistrySchema,
    registry_schema_by_id,
    registry_subjects,
    schema_match,
)
from apps.messaging.schema_registry.sync import COMPATIBILITY

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
_BODY_LIMIT = 256 * 1024


class RegistryError(Exception):
    """An error answered in the registry's shape; the HTTP status is the code's first three digits."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def _answer(body: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type=MEDIA_TYPE)


def _errors_answered(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            if settings.SCHEMA_REGISTRY_URL:
                # One registry at a time: ids here would not be the real registry's.
                raise RegistryError(40400, "The embedded registry is off: SCHEMA_REGISTRY_URL names the registry")
            return view(request, **kwargs)
        except RegistryError as exc:
            return _answer({"error_code": exc.error_code, "message": exc.message}, status=exc.error_code // 100)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _subject_versions(subject: str) -> dict[int, RegistrySchema]:
    versions = registry_subjects().get(subject)
    if versions is None:
        raise RegistryError(40401, f"Subject '{subject}' not found.")
    return versions


def _subject_version(subject: str, version: str) -> RegistrySchema:
    versions = _subject_versions(subject)
    if version in ("latest", "-1"):
        return versions[max(versions)]
    if not version.isascii() or not version.isdigit() or not 1 <= int(version) <= 2**31 - 1:
        raise RegistryError(
            42202,
            f"The specified version '{version}' is not a valid version id. "
            'Allowed values are between [1, 2^31-1] and the string "latest"',
        )
    found = versions.get(int(version))
    if found is None:
        raise RegistryError(40402, f"Version {version} not found.")
    return found


def _registered(entry: RegistrySchema) -> dict[str, Any]:
    return {"subject": entry.subject, "version": entry.version, "id": entry.schema_id, "schema": entry.schema_str}


def _candidate(request: HttpRequest) -> dict[str, Any]:
    """The Avro record schema in a request body ``{"schema": "...", "schemaType": "AVRO"}``."""
    if len(request.body) > _BODY_LIMIT:
        raise RegistryError(42201, "Invalid schema: the request body is too large")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise RegistryError(42201, "Invalid schema: the request body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise RegistryError(42201, 'Invalid schema: the body needs a "schema" string')
    if body.get("schemaType", "AVRO") != "AVRO" or body.get("references"):
        raise RegistryError(42201, "Invalid schema: this registry holds Avro schemas without references")
    try:
        schema = json.loads(body["schema"])
        if not isinstance(schema, dict) or schema.get("type") != "record":
            raise ValueError("an event schema is an Avro record")
        fastavro.parse_schema(schema, _write_hint=False)
    except (ValueError, KeyError, TypeError, RecursionError, fastavro.schema.SchemaParseException) as exc:
        raise RegistryError(42201, f"Invalid schema: {exc}") from None
    return schema


@require_GET
@_errors_answered
def subject_list(request: HttpRequest) -> HttpResponse:
    """GET /subjects: every subject (one per event type)."""
    return _answer(sorted(registry_subjects()))


@require_GET
@_errors_answered
def subject_version_get(request: HttpRequest, *, subject: str, version: str) -> HttpResponse:
    """GET /subjects/{subject}/versions/{version}: subject, version, id and schema (``latest`` allowed)."""
    return _answer(_registered(_subject_version(subject, version)))


@require_GET
@_errors_answered
def subject_version_schema(request: HttpRequest, *, subject: str, version: str) -> HttpResponse:
    """GET /subjects/{subject}/versions/{version}/schema: the schema alone."""
    return HttpResponse(_subject_version(subject, version).schema_str, content_type=MEDIA_TYPE)


@csrf_exempt
@require_POST
@_errors_answered
def subject_lookup(request: HttpRequest, *, subject: str) -> HttpResponse:
    """POST /subjects/{subject}: is this schema registered under the subject, and as what."""
    versions = _subject_versions(subject)
    schema = _candidate(request)
    for entry in versions.values():
        if entry.schema == schema:
            return _answer(_registered(entry))
    raise RegistryError(40403, "Schema not found")


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_errors_answered
def subject_versions(request: HttpRequest, *, subject: str) -> HttpResponse:
    """GET /subjects/{subject}/versions lists the version numbers; POST registers, which a
    read-only registry allows only for a schema it already holds (answering its id)."""
    if request.method == "GET":
        return _answer(sorted(_subject_versions(subject)))
    schema = _candidate(request)
    entry = schema_match(schema)
    if entry is None or entry.subject != subject:
        raise RegistryError(
            42205,
            f"Subject '{subject}' is in read-only mode: the embedded registry serves the schema catalogue; "
            "add a v<N>.avsc file to change it",
        )
    return _answer({"id": entry.schema_id})


@require_GET
@_errors_answered
def schema_by_id(request: HttpRequest, *, schema_id: str) -> HttpResponse:
    """GET /schemas/ids/{id}: the schema with that id (what a deserializer asks)."""
    entry = _schema_id_entry(schema_id)
    return _answer({"schema": entry.schema_str})


@require_GET
@_errors_answered
def schema_id_versions(request: HttpRequest, *, schema_id: str) -> HttpResponse:
    """GET /schemas/ids/{id}/versions: the subject and version the id is registered as."""
    entry = _schema_id_entry(schema_id)
    return _answer([{"subject": entry.subject, "version": entry.version}])


def _schema_id_entry(text: str) -> RegistrySchema:
    entry = None
    if text.isascii() and text.isdigit() and len(text) <= 10:
        entry = registry_schema_by_id(int(text))
    if entry is None:
        raise RegistryError(40403, f"Schema {text} not found")
    return entry


@require_GET
@_errors_answered
def schema_type_list(request: HttpRequest) -> HttpResponse:
    """GET /schemas/types."""
    return _answer(["AVRO"])


@csrf_exempt
@require_http_methods(["GET", "PUT"])
@_errors_answered
def compatibility_config(request: HttpRequest, *, subject: str | None = None) -> HttpResponse:
    """GET /config[/{subject}]: BACKWARD everywhere. PUT accepts only BACKWARD (read-only)."""
    if subject is not None:
        _subject_versions(subject)
    if request.method == "GET":
        return _answer({"compatibilityLevel": COMPATIBILITY})
    try:
        level = json.loads(request.body).get("compatibility")
    except (ValueError, UnicodeDecodeError, AttributeError):
        level = None
    if level != COMPATIBILITY:
        raise RegistryError(42205, f"the embedded registry is read-only: its compatibility is {COMPATIBILITY}")
    return _answer({"compatibility": COMPATIBILITY})


@csrf_exempt
@require_POST
@_errors_answered
def compatibility_check(request: HttpRequest, *, subject: str, version: str) -> HttpResponse:
    """POST /compatibility/subjects/{subject}/versions/{version}: can the schema in the body read that version's data.

    BACKWARD, decided by the project's own rules (the structural walk and fastavro's
    schema resolution), not upcasters: a registry knows only schemas.
    """
    previous = _subject_version(subject, version)
    candidate = _candidate(request)
    try:
        schema_compatibility_check(previous=previous.schema, candidate=candidate)
    except SchemaIncompatible as exc:
        return _answer({"is_compatible": False, "messages": [str(exc)]})
    return _answer({"is_compatible": True, "messages": []})


@_errors_answered
def unknown_path(request: HttpRequest, *, rest: str) -> HttpResponse:
    raise RegistryError(40400, "HTTP 404 Not Found")


_SUBJECT = r"(?P<subject>[^/]+)"
_VERSION = r"(?P<version>[^/]+)"

urlpatterns = [
    path("subjects", subject_list, name="schema-registry-subjects"),
    re_path(rf"^subjects/{_SUBJECT}/versions$", subject_versions, name="schema-registry-subject-versions"),
    re_path(rf"^subjects/{_SUBJECT}/versions/{_VERSION}$", subject_version_get, name="schema-registry-subject-version"),
    re_path(rf"^subjects/{_SUBJECT}/versions/{_VERSION}/schema$", subject_version_schema),
    re_path(rf"^subjects/{_SUBJECT}$", subject_lookup),
    re_path(r"^schemas/ids/(?P<schema_id>[^/]+)$", schema_by_id, name="schema-registry-schema"),
    re_path(r"^schemas/ids/(?P<schema_id>[^/]+)/versions$", schema_id_versions),
    path("schemas/types", schema_type_list),
    path("config", compatibility_config),
    re_path(rf"^config/{_SUBJECT}$", compatibility_config),
    re_path(rf"^compatibility/subjects/{_SUBJECT}/versions/{_VERSION}$", compatibility_check),
    re_path(r"^(?P<rest>[\s\S]*)$", unknown_path),
]
