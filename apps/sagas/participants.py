"""The saga's participants: inventory, the payment gateway and the order, behind one entry point.

A saga step sends a command to a participant through :func:`participant_command_run`,
which runs it through the order domain's own handler, so a saga's reservation or
payment is the same event as one placed through the API. Inventory and the gateway
can be made to misbehave by the operator's failure rules (target
``participant.inventory`` / ``participant.payment``): ``fail`` raises
:class:`InjectedFailure`, ``reject`` makes the domain refuse the command with a reason
naming the rule (the same path a real shortage or decline takes), ``no_reply``
swallows it, ``delay`` answers late (or not at all, when the sender no longer wants the
command by then: see :func:`participant_command_run`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Literal

from django.conf import settings

from apps.messaging.dead_letters import FailureRuleEffect, InjectedFailure, ParticipantFault, participant_fault_find
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext, CommandResult

Participant = Literal["inventory", "payment", "order"]

# Which participant answers which command: a command sent to the wrong one is a bug in the caller.
_PARTICIPANT_OF: dict[type, Participant] = {
    cmds.ReserveStock: "inventory",
    cmds.ReleaseStock: "inventory",
    cmds.AuthorizePayment: "payment",
    cmds.RefundPayment: "payment",
    cmds.ConfirmOrder: "order",
    cmds.CancelOrder: "order",
}


def _authorize_at_gateway_limit(cmd: cmds.AuthorizePayment, ctx: CommandContext) -> CommandResult:
    # The gateway's limit is this deployment's setting, whatever the sender put in the command.
    limited = dataclasses.replace(cmd, limit_cents=settings.PAYMENT_GATEWAY_LIMIT_CENTS)
    return handlers.authorize_payment(limited, ctx)


_HANDLER_OF: dict[type, Callable[[Any, CommandContext], CommandResult]] = {
    cmds.ReserveStock: handlers.reserve_stock,
    cmds.ReleaseStock: handlers.release_stock,
    cmds.AuthorizePayment: _authorize_at_gateway_limit,
    cmds.RefundPayment: handlers.refund_payment,
    cmds.ConfirmOrder: handlers.confirm_order,
    cmds.CancelOrder: handlers.cancel_order,
}


def _refused(command: object, fault: ParticipantFault) -> object:
    reason = f"failure rule {fault.rule_id}: {fault.description}"
    if isinstance(command, cmds.ReserveStock):
        return dataclasses.replace(command, reject_reason=reason)
    if isinstance(command, cmds.AuthorizePayment):
        return dataclasses.replace(command, decline_reason=reason)
    raise AssertionError(f"{type(command).__name__} cannot be refused")  # participant_fault_find passed it over


def _fault_find(participant: Participant, command: object) -> ParticipantFault | None:
    if participant == "order":
        return None
    # Matched on what the sender asked, not on a refusal a rule may have added.
    asked = dataclasses.asdict(command)  # type: ignore[call-overload]
    fields = {key: value for key, value in asked.items() if key not in ("reject_reason", "decline_reason")}
    return participant_fault_find(
        participant=participant,
        command_type=type(command).__name__,
        fields=fields,
        can_reject=isinstance(command, cmds.ReserveStock | cmds.AuthorizePayment),
    )


def participant_command_run(
    *,
    participant: Participant,
    command: object,
    ctx: CommandContext,
    still_wanted: Callable[[], bool] | None = None,
) -> CommandResult | None:
    """Run ``command`` at ``participant`` through the order domain's handler, under the failure rules.

    Returns the handler's result (the events appended), or None when a ``no_reply`` rule
    swallowed the command (nothing was appended: the sender's deadline will pass), or when
    a ``delay`` rule held it and ``still_wanted`` then said the sender gave up on it.
    The sender may have moved on during the delay (timed the command out, sent it again,
    undone it): a stale reservation landing after its release would hold stock no one
    releases, so a delayed command asks ``still_wanted`` first and is dropped on False.
    Raises :class:`InjectedFailure` under a ``fail`` rule, ``ValueError`` for a command
    the participant does not answer.
    """
    expected = _PARTICIPANT_OF.get(type(command))
    if expected is None:
        raise ValueError(f"no participant answers {type(command).__name__}")
    if expected != participant:
        raise ValueError(f"{type(command).__name__} goes to {expected}, not {participant}")
    fault = _fault_find(participant, command)
    if fault is not None:
        match fault.effect:
            case FailureRuleEffect.FAIL:
                raise InjectedFailure(rule_id=fault.rule_id, description=fault.description)
            case FailureRuleEffect.NO_REPLY:
                return None
            case FailureRuleEffect.DELAY:
                time.sleep(fault.delay_ms / 1000)
                if still_wanted is not None and not still_wanted():
                    return None
            case FailureRuleEffect.REJECT:
                command = _refused(command, fault)
    return _HANDLER_OF[type(command)](command, ctx)
