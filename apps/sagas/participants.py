"""The saga's participants: inventory, the payment gateway and the order, behind one entry point.

A saga step sends a command to a participant through :func:`participant_command_run`,
which runs it through the order domain's own handler, so a saga's reservation or
payment is the same event as one placed through the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from django.conf import settings

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
    limited = cmds.AuthorizePayment(
        order_id=cmd.order_id,
        amount_cents=cmd.amount_cents,
        currency=cmd.currency,
        limit_cents=settings.PAYMENT_GATEWAY_LIMIT_CENTS,
    )
    return handlers.authorize_payment(limited, ctx)


_HANDLER_OF: dict[type, Callable[[Any, CommandContext], CommandResult]] = {
    cmds.ReserveStock: handlers.reserve_stock,
    cmds.ReleaseStock: handlers.release_stock,
    cmds.AuthorizePayment: _authorize_at_gateway_limit,
    cmds.RefundPayment: handlers.refund_payment,
    cmds.ConfirmOrder: handlers.confirm_order,
    cmds.CancelOrder: handlers.cancel_order,
}


def participant_command_run(*, participant: Participant, command: object, ctx: CommandContext) -> CommandResult | None:
    """Run ``command`` at ``participant`` through the order domain's handler.

    Returns the handler's result (the events appended). Raises ``ValueError`` for a
    command the participant does not answer.
    """
    expected = _PARTICIPANT_OF.get(type(command))
    if expected is None:
        raise ValueError(f"no participant answers {type(command).__name__}")
    if expected != participant:
        raise ValueError(f"{type(command).__name__} goes to {expected}, not {participant}")
    return _HANDLER_OF[type(command)](command, ctx)
