"""``manage.py check_event_schemas`` runs the compatibility check over the catalogue on disk."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.orders.event_schemas import ORDER_SCHEMAS_ROOT


def test_the_repository_catalogue_passes() -> None:
    out = StringIO()
    call_command("check_event_schemas", stdout=out)
    assert "ok: OrderPlaced v1 -> v2" in out.getvalue()
    assert "ok: StockReservationRejected v1 -> v2" in out.getvalue()
    assert "12 event types" in out.getvalue()


def _copy_with_v3(tmp_path: Path, new_field: dict[str, object]) -> Path:
    root = tmp_path / "avro"
    shutil.copytree(ORDER_SCHEMAS_ROOT, root)
    v3 = json.loads((root / "OrderPlaced" / "v2.avsc").read_text())
    v3["fields"].append(new_field)
    (root / "OrderPlaced" / "v3.avsc").write_text(json.dumps(v3))
    return root


def test_a_v3_with_a_required_field_without_default_is_refused(tmp_path: Path) -> None:
    root = _copy_with_v3(tmp_path, {"name": "channel", "type": "string"})
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 3 schema version steps are incompatible"):
        call_command("check_event_schemas", schemas_dir=root, stdout=out)
    assert "refused: OrderPlaced v2 -> v3: field 'channel' is new and has no default" in out.getvalue()


def test_a_v3_without_an_upcaster_is_refused_even_when_avro_compatible(tmp_path: Path) -> None:
    root = _copy_with_v3(tmp_path, {"name": "channel", "type": "string", "default": "web"})
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check_event_schemas", schemas_dir=root, stdout=out)
    assert "no upcaster registered for v2 -> v3" in out.getvalue()


def test_broken_schema_files_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "avro"
    shutil.copytree(ORDER_SCHEMAS_ROOT, root)
    (root / "OrderPlaced" / "v5.avsc").write_text((root / "OrderPlaced" / "v2.avsc").read_text())
    with pytest.raises(CommandError, match="without gaps"):
        call_command("check_event_schemas", schemas_dir=root, stdout=StringIO())
