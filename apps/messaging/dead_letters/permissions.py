"""The operator check every dead-letter action starts with; a refusal is audited too.

Dead-letter actions always name a user (the management command takes ``--as USER``), so
a bare name is refused here: ``allow_named`` stays off.
"""

from __future__ import annotations

from apps.accounts.services import Actor, actor_label, operator_require

actor_name = actor_label

__all__ = ["Actor", "actor_name", "operator_require"]
