"""``python -m bench.pipeline``: the Kafka pipeline's four speed figures, each beside its reference.

Prints one line per figure on stdout (progress and notes go to stderr)::

    bench: <name>: <value> <unit> | reference <name>: <value> | ratio <x.xx> | goal <goal>

1. relay throughput: the relay vs a bare kafka-python producer (``bench/pipeline_kafka.py``);
2. apply rate of the ``order_summary`` consumer vs a bare consumer (same module);
3. end to end, command appended -> OrderSummary row shows it, at 200 events/s, p50 and p99,
   with the relay and a Celery worker as processes (``bench/pipeline_e2e.py``);
4. rebuild of OrderSummary from 1,000,000 events, rate and peak RSS of the rebuilding
   process, vs reading the global log alone (``bench/pipeline_rebuild.py``);
5. Avro values beside JSON: relay throughput and apply rate on the first broker
   (``bench/pipeline_formats.py``), end to end p50 and p99 in figure 3's run (a second
   stack with ``KAFKA_VALUE_FORMAT=avro``).

Databases: ``eda_bench_pipeline`` (``BENCH_PIPELINE_DATABASE``; figures 1-3 and 5) is
dropped, created and migrated every run; ``eda_bench_pipeline_rebuild`` keeps its
1,000,000 events between runs (generating them takes minutes) and is only topped up when
it holds fewer; the output says which.
A Tansu broker is started on a free port for figures 1-2 and a fresh one for figure 3.
Redis is ``BENCH_REDIS_URL`` (default db 12), for heartbeats and the worker's queue.
The machine is shared: the load average is printed at the start and on each figure's line,
and a figure whose reference moved by more than 20 % within its run is measured again
(``bench/figure.py``; the apply rate cannot be, and says so).

Knobs: ``BENCH_PIPELINE_EVENTS`` (figures 1-2, default 60000), ``BENCH_PIPELINE_ROUNDS``
(default 6), ``BENCH_E2E_SECONDS`` (default 60), ``BENCH_E2E_RATE`` (default 200),
``BENCH_REBUILD_EVENTS`` (default 1000000), ``BENCH_FORMATS_EVENTS`` (figure 5, default
20000), ``BENCH_PIPELINE_ONLY`` (a comma list of ``relay,apply,formats,end,rebuild``;
``apply`` needs ``relay``). A missed goal is reported, never
failed on; a figure that cannot be measured prints ``not measured`` and makes the exit
code 1.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.common import kafka_bench_started, stderr
from bench.figure import Figure, figure_print, figures_steady
from eda_console.embedded import process_stop
from eda_console.env import env_float, env_int

DATABASE = os.environ.get("BENCH_PIPELINE_DATABASE", "eda_bench_pipeline")
REBUILD_DATABASE = "eda_bench_pipeline_rebuild"
EVENTS = env_int("BENCH_PIPELINE_EVENTS", 60000)
ROUNDS = env_int("BENCH_PIPELINE_ROUNDS", 6)
E2E_SECONDS = env_float("BENCH_E2E_SECONDS", 60)
E2E_RATE = env_float("BENCH_E2E_RATE", 200)
REBUILD_EVENTS = env_int("BENCH_REBUILD_EVENTS", 1000000)
FORMATS_EVENTS = env_int("BENCH_FORMATS_EVENTS", 20000)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ONLY = {name.strip() for name in os.environ.get("BENCH_PIPELINE_ONLY", "").split(",") if name.strip()}


def main() -> int:
    with kafka_bench_started(name="pipeline", database=DATABASE, redis_url=REDIS_URL, broker_log="tansu-1.log") as (
        var_dir,
        broker,
    ):
        return _figures(var_dir, broker)


def _figures(var_dir: Path, broker: object) -> int:
    from bench.pipeline_e2e import figures_end_to_end
    from bench.pipeline_formats import figures_formats
    from bench.pipeline_kafka import figure_apply, figure_relay
    from bench.pipeline_rebuild import figures_rebuild

    # The relay and the consumer of figures 1-3 run in this process. In service, their
    # processes freeze what start-up loaded (run_relay, the consumer process): so does this
    # one, start-up done. The bare producer and consumer they are measured against share it.
    gc.freeze()
    in_topic = 0

    def relay_once() -> list[Figure]:
        nonlocal in_topic
        figure, published = figure_relay(EVENTS, ROUNDS)
        in_topic += published
        return [figure]

    def relay() -> list[Figure]:
        return figures_steady(relay_once)

    def apply() -> list[Figure]:
        if not in_topic:
            raise RuntimeError("needs the relay figure's events in the topic")
        return figures_steady(
            lambda: [figure_apply(in_topic)], repeat=False, why_not="its consumer group has applied the topic"
        )

    def formats() -> list[Figure]:
        return figures_formats(FORMATS_EVENTS)

    def end_to_end() -> list[Figure]:
        process_stop(broker)  # type: ignore[arg-type]  # figures 1-2 are done with it
        return figures_end_to_end(var_dir=var_dir, seconds=E2E_SECONDS, rate=E2E_RATE)

    def rebuild() -> list[Figure]:
        return figures_steady(
            lambda: figures_rebuild(var_dir=var_dir, database=REBUILD_DATABASE, events=REBUILD_EVENTS)
        )

    figures: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("relay throughput", relay),
        ("apply rate", apply),
        ("formats avro beside json", formats),
        ("end to end", end_to_end),
        ("rebuild", rebuild),
    ]
    failed = False
    for name, measure in figures:
        if ONLY and name.split()[0] not in ONLY:
            continue
        try:
            for figure in measure():
                figure_print(figure)
        except Exception as exc:
            failed = True
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"bench: {name}: not measured ({type(exc).__name__}: {reason})", flush=True)
            stderr.print(traceback.format_exc(), highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
