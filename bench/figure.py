"""The figure line, and the harness that measures a figure again when its reference moved.

Every figure is printed as one line beside its reference from the same run::

    bench: <name>: <value> <unit> | reference <name>: <value> | ratio <x.xx> | goal <goal> | load <l>[ | ...]

The machine is shared, so a ratio can be an artefact of noise. Most figures time their side
and the reference in alternating rounds; a figure that knows its reference's value in each
round carries them (``reference_rounds``), the line shows their spread (max / min), and
:func:`figures_steady` measures again, at most twice, when that spread passes 20 %, keeping
the attempt whose reference was steadiest and saying so on the line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from rich.console import Console

from eda_console.env import env_int

SPREAD_LIMIT = 1.2
# BENCH_ATTEMPTS=1 measures every figure once (a quick run while working on one); the spread is still shown.
ATTEMPTS = env_int("BENCH_ATTEMPTS", 3)

stderr = Console(stderr=True)


def load_average() -> float:
    """The machine's 1-minute load average."""
    return os.getloadavg()[0]


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its reference, printed as one comparable line."""

    name: str
    value: float
    unit: str
    reference_name: str
    reference_value: float
    goal: str
    # A context line (a ceiling of the machine, no goal of ours) starts "bench-context:"
    # so that readers collecting "bench:" lines skip it.
    context: bool = False
    # The reference's value in each round of the run (a rate, or a window's median
    # latency); empty when the reference is one measurement that cannot be split.
    reference_rounds: tuple[float, ...] = ()
    # Taken when the figure is built, which is at the end of its measurement.
    load: float = field(default_factory=load_average)
    # Which attempt of figures_steady this is and why it was kept.
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.reference_value if self.reference_value else float("inf")

    @property
    def reference_spread(self) -> float | None:
        """Max / min of the reference's rounds (inf when a round measured nothing); None without rounds."""
        if len(self.reference_rounds) < 2:
            return None
        low = min(self.reference_rounds)
        return max(self.reference_rounds) / low if low > 0 else float("inf")

    def line(self) -> str:
        spread = self.reference_spread
        return (
            f"{'bench-context' if self.context else 'bench'}: {self.name}: {self.value:.0f} {self.unit}"
            f" | reference {self.reference_name}:"
            f" {self.reference_value:.0f} | ratio {self.ratio:.2f} | goal {self.goal}"
            f" | load {self.load:.1f}"
            + (f" | reference spread {spread:.2f} over {len(self.reference_rounds)} rounds" if spread else "")
            + (f" | {self.note}" if self.note else "")
        )


def figure_print(figure: Figure) -> None:
    print(figure.line(), flush=True)


class Rounds:
    """One side's operations and seconds, round by round: its rate over the run and in each round."""

    def __init__(self) -> None:
        self.done = 0.0
        self.seconds = 0.0
        self.rates: list[float] = []

    def add(self, done: float, seconds: float) -> None:
        self.done += done
        self.seconds += seconds
        self.rates.append(done / seconds if seconds > 0 else 0.0)

    def extend(self, other: Rounds) -> None:
        """Add ``other``'s rounds to these (two reads of one reference, say)."""
        self.done += other.done
        self.seconds += other.seconds
        self.rates.extend(other.rates)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def rounds(self) -> tuple[float, ...]:
        return tuple(self.rates)


def window_medians(samples: Sequence[tuple[float, float]], windows: int) -> tuple[float, ...]:
    """The median value in each of ``windows`` equal spans of time of ``(at, value)`` samples.

    How a latency reference (one percentile over a run) shows whether it moved during the
    run; a window with no sample is left out.
    """
    if not samples:
        return ()
    start = min(at for at, _ in samples)
    span = (max(at for at, _ in samples) - start) / windows or 1.0
    buckets: list[list[float]] = [[] for _ in range(windows)]
    for at, value in samples:
        buckets[min(int((at - start) / span), windows - 1)].append(value)
    return tuple(sorted(bucket)[len(bucket) // 2] for bucket in buckets if bucket)


def _worst_spread(figures: Sequence[Figure]) -> float:
    spreads = [spread for figure in figures if not figure.context and (spread := figure.reference_spread)]
    return max(spreads, default=1.0)


def figures_steady(measure: Callable[[], list[Figure]], *, repeat: bool = True, why_not: str = "") -> list[Figure]:
    """Figures from ``measure``, measured again (at most twice more) while their reference moved by more than 20 %.

    Keeps the attempt whose worst reference spread is the smallest and notes it on each of
    its lines; the other attempts' lines go to stderr. With ``repeat=False`` (a figure that
    cannot be measured twice in one run, ``why_not`` says why) a moving reference is only
    noted.
    """
    attempts = [measure()]
    while repeat and len(attempts) < ATTEMPTS and (spread := _worst_spread(attempts[-1])) > SPREAD_LIMIT:
        stderr.print(
            f"bench: the reference moved {spread:.2f}x within the run (more than {SPREAD_LIMIT:.1f}x);"
            f" measuring again, attempt {len(attempts) + 1} of at most {ATTEMPTS}",
            highlight=False,
            soft_wrap=True,
        )
        attempts.append(measure())
    spreads = [_worst_spread(figures) for figures in attempts]
    kept = min(range(len(attempts)), key=spreads.__getitem__)
    if len(attempts) == 1:
        reason = why_not if not repeat else f"BENCH_ATTEMPTS={ATTEMPTS}"
        note = "" if spreads[0] <= SPREAD_LIMIT else f"reference moved > 20%, not measured again ({reason})"
    else:
        moved = f", all > {SPREAD_LIMIT:.2f}" if spreads[kept] > SPREAD_LIMIT else ""
        listed = ", ".join(f"{spread:.2f}" for spread in spreads)
        note = f"attempt {kept + 1} of {len(attempts)} kept (steadiest reference; spreads {listed}{moved})"
        set_aside = [(index, figure) for index, figures in enumerate(attempts) if index != kept for figure in figures]
        for index, figure in set_aside:
            stderr.print(f"bench: attempt {index + 1} set aside: {figure.line()}", highlight=False, soft_wrap=True)
    return [replace(figure, note=note) for figure in attempts[kept]]
