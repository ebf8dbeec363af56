"""List, replay and skip dead letters from the terminal, acting as a named operator."""

from __future__ import annotations

from typing import IO, Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterNotReplayable,
    DeadLetterStatus,
    ReplaySummary,
    dead_letter_replay,
    dead_letter_replay_matching,
    dead_letter_replay_stream,
    dead_letter_skip,
)
from apps.messaging.dead_letters.selectors import dead_letter_list


def _filter_arguments(parser: CommandParser, *, with_status: bool) -> None:
    parser.add_argument("--group", help="consumer group id")
    if with_status:
        parser.add_argument("--status", choices=DeadLetterStatus.values)
    parser.add_argument("--stream", help="stream id")
    parser.add_argument("--event-type")
    parser.add_argument("--error-class", help="dotted or bare class name")


class Command(BaseCommand):
    help = (
        "Dead letters: list | replay ID | replay-stream GROUP STREAM | replay-all [filters] | skip ID --reason TEXT. "
        "Replay and skip act as the operator named by --as and are written to the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as", dest="as_user", metavar="USER", help="the operator to act as (for writes)")
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="list dead letters, newest first")
        _filter_arguments(listing, with_status=True)
        listing.add_argument("--limit", type=int, default=50)
        replay = actions.add_parser("replay", help="replay one dead letter and release those behind it")
        replay.add_argument("dead_letter_id", type=int)
        stream = actions.add_parser("replay-stream", help="replay what is parked for one stream, in order")
        stream.add_argument("group")
        stream.add_argument("stream")
        replay_all = actions.add_parser("replay-all", help="replay every parked dead letter matching the filters")
        _filter_arguments(replay_all, with_status=False)
        replay_all.add_argument("--all", action="store_true", help="replay every parked dead letter (no filter)")
        skip = actions.add_parser("skip", help="skip one dead letter with a reason")
        skip.add_argument("dead_letter_id", type=int)
        skip.add_argument("--reason", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list(options)
            return
        actor = self._operator(options.get("as_user"))
        try:
            if action == "replay":
                result = dead_letter_replay(dead_letter_id=options["dead_letter_id"], actor=actor)
                self.stdout.write(result.message)
                if result.outcome == "failed":
                    raise CommandError(result.message)
            elif action == "skip":
                result = dead_letter_skip(
                    dead_letter_id=options["dead_letter_id"], reason=options["reason"], actor=actor
                )
                self.stdout.write(result.message)
            elif action == "replay-stream":
                summary = dead_letter_replay_stream(group_id=options["group"], stream_id=options["stream"], actor=actor)
                self._summary(summary)
            else:
                self._replay_all(options, actor)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except DeadLetter.DoesNotExist:
            raise CommandError(f"no dead letter {options.get('dead_letter_id')}") from None
        except DeadLetterNotReplayable as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    def _operator(self, username: str | None) -> Any:
        if not username:
            raise CommandError("name the operator to act as: --as USER")
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None

    def _filters(self, options: dict[str, Any]) -> DeadLetterFilter:
        return DeadLetterFilter(
            group_id=options.get("group"),
            status=options.get("status"),
            stream_id=options.get("stream"),
            event_type=options.get("event_type"),
            error_class=options.get("error_class"),
        )

    def _list(self, options: dict[str, Any]) -> None:
        table = Table("id", "group", "status", "position", "stream", "type", "error", "attempts", "last failure")
        for dead_letter in dead_letter_list(filters=self._filters(options))[: options["limit"]]:
            if dead_letter.blocked_by_id is not None and dead_letter.status == "parked":
                error = f"parked behind {dead_letter.blocked_by_id}"
            else:
                error = f"{dead_letter.error_class.rsplit('.', 1)[-1]}: {dead_letter.error_message[:60]}"
            table.add_row(
                str(dead_letter.pk),
                dead_letter.group_id,
                dead_letter.status,
                "undecodable" if dead_letter.position is None else str(dead_letter.position),
                dead_letter.stream_id,
                dead_letter.event_type,
                error,
                str(dead_letter.attempts),
                f"{dead_letter.last_failed_at:%Y-%m-%d %H:%M:%S}" if dead_letter.last_failed_at else "",
            )
        Console(file=cast(IO[str], self.stdout), width=160).print(table)

    def _replay_all(self, options: dict[str, Any], actor: Any) -> None:
        filtered = bool(self._filters(options).as_dict())
        # A forgotten filter must not read as "everything": that takes an explicit --all.
        if filtered == options["all"]:
            raise CommandError("replay-all needs either filters (--group, --stream, ...) or --all, not both")
        columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(file=cast(IO[str], self.stderr))) as progress:
            task = progress.add_task("replay", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = dead_letter_replay_matching(
                filters=self._filters(options), everything=options["all"], actor=actor, progress=advance
            )
        self._summary(summary)

    def _summary(self, summary: ReplaySummary) -> None:
        self.stdout.write(f"replayed {summary.replayed}, failed {summary.failed}, still parked {summary.still_parked}")
