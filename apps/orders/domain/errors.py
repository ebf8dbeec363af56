class DomainError(Exception):
    """A command broke a business rule; nothing is recorded."""


class InvalidCommand(DomainError):
    """The command itself is malformed (no lines, quantity <= 0, negative price)."""


class RuleViolation(DomainError):
    """The command is well-formed but the aggregate's state forbids it."""
