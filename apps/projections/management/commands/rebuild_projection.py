"""``manage.py rebuild_projection NAME``: a blue/green rebuild in the foreground, with a progress bar."""

from __future__ import annotations

import getpass
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from apps.projections.models import ProjectionRebuild
from apps.projections.projectors import PROJECTORS, UnknownProjection
from apps.projections.rebuild import RebuildAlreadyActive, projection_rebuild_request, projection_rebuild_run
from apps.projections.rebuild.runner import REBUILD_BATCH_SIZE


class Command(BaseCommand):
    help = "Rebuild a read model from the event store into a shadow copy and swap it in, showing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help=f"one of: {', '.join(sorted(PROJECTORS))}")
        parser.add_argument("--batch-size", type=int, default=REBUILD_BATCH_SIZE, help="events read per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        try:
            job = projection_rebuild_request(name=name, actor=f"cli:{getpass.getuser()}", enqueue=False)
        except UnknownProjection:
            choices = ", ".join(sorted(PROJECTORS))
            raise CommandError(f"no projection is called {name!r}; choose one of {choices}") from None
        except RebuildAlreadyActive as exc:
            raise CommandError(str(exc)) from None
        # Rich writes partial lines; Django's OutputWrapper would end each with a newline.
        console = Console(file=cast(IO[str], self.stdout._out), force_terminal=self.stdout.isatty())
        console.print(f"Rebuilding [bold]{name}[/] (job {job.id})")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9,.0f} events/s"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task(name, total=None, rate=0.0)

            def show(current: ProjectionRebuild) -> None:
                progress.update(
                    task,
                    completed=current.events_done,
                    total=current.events_total or None,
                    rate=current.rate,
                    description=f"{name} {current.status}",
                )

            job = projection_rebuild_run(job_id=job.id, on_progress=show, batch_size=options["batch_size"])
        if job.status != "done":
            raise CommandError(f"rebuild {job.id} {job.status}: {job.error.splitlines()[0] if job.error else ''}")
        console.print(
            f"Done: {job.events_done:,} events read, {job.applied_count:,} applied, {job.rate:,.0f} events/s;"
            " the rebuilt model is live.",
            soft_wrap=True,
        )
