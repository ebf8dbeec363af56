"""Chart figures: pure functions from selector rows to plotly figures.

Pages embed a figure as a JSON data block (``figure_json``) that ``static/console/console.js``
draws with the plotly.js served from ``static/``: ``Figure.to_html`` would emit an inline
script, which the Content-Security-Policy forbids. Each figure is built from one plain
dict in a single ``go.Figure`` call: plotly validates it once, where ``update_layout``
calls would validate again each time (3x slower on the overview).
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import plotly.graph_objects as go

from apps.eventstore.types import RecordedEvent

_PALETTE = ["#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b"]
_STATUS_COLOURS = {
    "placed": "#3b82f6",
    "confirmed": "#10b981",
    "shipped": "#8b5cf6",
    "cancelled": "#ef4444",
    "new": "#94a3b8",
}
# Same escapes as django.utils.html.json_script: the JSON cannot close its <script> block.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}
_AXIS = {"gridcolor": "#e2e8f0", "zeroline": False}


def _text(value: str) -> str:
    # plotly.js reads a subset of HTML in labels; entities keep stored strings literal.
    return html.escape(value, quote=True)


def _iso(moment: dt.datetime) -> str:
    # Strings, not datetimes: plotly deep-copies its input, and copying datetimes is most of its cost.
    return moment.isoformat()


def _layout(*, height: int = 220, legend: bool = False, **changes: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 44, "r": 12, "t": 8, "b": 32},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 11, "color": "#334155"},
        "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.22, "x": 0},
        "xaxis": dict(_AXIS),
        "yaxis": {**_AXIS, "rangemode": "tozero"},
        "hovermode": "x unified",
    }
    layout.update(changes)
    return layout


def _empty(layout: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        **layout,
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "annotations": [{"text": text, "showarrow": False, "font": {"color": "#94a3b8", "size": 12}}],
    }


def build_event_rate_figure(rows: Sequence[tuple[dt.datetime, int]]) -> go.Figure:
    """Events appended per second; rows are (second, count), oldest first."""
    trace = {
        "type": "scatter",
        "x": [_iso(second) for second, _ in rows],
        "y": [count for _, count in rows],
        "mode": "lines",
        "line": {"color": _PALETTE[0], "width": 1.5, "shape": "hv"},
        "fill": "tozeroy",
        "fillcolor": "rgba(59,130,246,0.12)",
        "name": "events/s",
    }
    return go.Figure({"data": [trace], "layout": _layout()})


def build_orders_by_status_figure(rows: Sequence[tuple[str, int]]) -> go.Figure:
    """Orders per status; rows are (status, count)."""
    trace = {
        "type": "bar",
        "x": [_text(status) for status, _ in rows],
        "y": [count for _, count in rows],
        "marker": {"color": [_STATUS_COLOURS.get(status, _PALETTE[-1]) for status, _ in rows]},
        "text": [count for _, count in rows],
        "textposition": "outside",
        "cliponaxis": False,
        "name": "orders",
    }
    layout = _layout(hovermode="closest", bargap=0.45)
    return go.Figure({"data": [trace], "layout": layout if rows else _empty(layout, "no orders in the read model yet")})


def build_lag_figure(rows: Sequence[tuple[dt.datetime, str, int]]) -> go.Figure:
    """Total lag per consumer group over time; rows are (sampled_at, group_id, lag)."""
    series: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for sampled_at, group_id, lag in rows:
        series[group_id].append((sampled_at, lag))
    traces = []
    for index, (group_id, points) in enumerate(sorted(series.items())):
        points.sort()
        traces.append(
            {
                "type": "scatter",
                "x": [_iso(at) for at, _ in points],
                "y": [lag for _, lag in points],
                "mode": "lines",
                "name": _text(group_id),
                "line": {"color": _PALETTE[index % len(_PALETTE)], "width": 1.5},
            }
        )
    layout = _layout(height=260, legend=True)
    return go.Figure({"data": traces, "layout": layout if rows else _empty(layout, "no lag samples in the last hour")})


def build_projection_lag_figure(rows: Sequence[tuple[dt.datetime, int, float]]) -> go.Figure:
    """A projection's lag trend, small enough for a table cell; rows are (sampled_at, positions, seconds)."""
    trace = {
        "type": "scatter",
        "x": [_iso(at) for at, _, _ in rows],
        "y": [positions for _, positions, _ in rows],
        "customdata": [round(seconds, 1) for _, _, seconds in rows],
        "hovertemplate": "%{y} positions · %{customdata} s<extra></extra>",
        "mode": "lines",
        "line": {"color": _PALETTE[0], "width": 1.5},
        "fill": "tozeroy",
    }
    layout = _layout(
        height=48,
        margin={"l": 0, "r": 0, "t": 2, "b": 2},
        xaxis={"visible": False},
        yaxis={"visible": False, "rangemode": "tozero"},
        hovermode="closest",
    )
    return go.Figure({"data": [trace], "layout": layout if rows else _empty(layout, "no samples")})


def build_trace_figure(events: Sequence[RecordedEvent]) -> go.Figure:
    """A timeline: one lane per stream, one marker per event at its recorded time."""
    lanes: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in events:
        lanes[event.stream_id].append(event)
    traces = [
        {
            "type": "scatter",
            "x": [_iso(event.recorded_at) for event in lane],
            "y": [_text(stream_id)] * len(lane),
            "mode": "markers+text",
            "text": [_text(event.event_type) for event in lane],
            "textposition": "top center",
            "cliponaxis": False,
            "marker": {"size": 10, "color": _PALETTE[index % len(_PALETTE)], "line": {"width": 1, "color": "#fff"}},
            "customdata": [[event.position, event.version] for event in lane],
            "hovertemplate": "%{text}<br>position %{customdata[0]} · v%{customdata[1]}<br>%{x}<extra></extra>",
            "name": _text(stream_id),
        }
        for index, (stream_id, lane) in enumerate(lanes.items())
    ]
    layout = _layout(
        height=max(170, 70 * len(lanes) + 70),
        hovermode="closest",
        margin={"l": 44, "r": 80, "t": 28, "b": 32},
        yaxis={"type": "category", "automargin": True},
    )
    return go.Figure({"data": traces, "layout": layout})


class TimelineAttempt(Protocol):
    """What the saga timeline reads of one attempt (a ``SagaStep`` row)."""

    name: str
    target: str
    kind: str
    sequence: int
    attempt: int
    max_attempts: int
    status: str
    compensates: str
    wait_before_ms: int
    started_at: dt.datetime
    deadline_at: dt.datetime | None
    finished_at: dt.datetime | None
    outcome: str


_ATTEMPT_COLOURS = {
    "succeeded": "#10b981",
    "rejected": "#f59e0b",
    "errored": "#ef4444",
    "timed_out": "#b91c1c",
    "cancelled": "#94a3b8",
    "pending": "#3b82f6",
}
_COMPENSATION_COLOURS = {"succeeded": "#8b5cf6", "pending": "#c4b5fd"}
_COMPENSATION_FAILED = "#6d28d9"
_WAIT_COLOUR = "#cbd5e1"


def _timeline_row(attempt: TimelineAttempt, subject: str) -> str:
    # A step on the saga's own order needs no target: the page already names the order.
    label = f"{attempt.name} · {attempt.target}" if attempt.target not in ("", subject) else attempt.name
    return _text(("↺ " if attempt.kind == "compensation" else "") + label)


def _timeline_rows(attempts: Sequence[TimelineAttempt], subject: str) -> list[str]:
    """Rows top to bottom: actions in plan order, each compensation right under the action it undoes."""
    actions = sorted((a for a in attempts if a.kind != "compensation"), key=lambda a: (a.sequence, a.started_at))
    undoing: dict[tuple[str, str], list[TimelineAttempt]] = defaultdict(list)
    orphans: list[TimelineAttempt] = []
    action_keys = {(a.name, a.target) for a in actions}
    for attempt in sorted((a for a in attempts if a.kind == "compensation"), key=lambda a: (a.sequence, a.started_at)):
        key = (attempt.compensates, attempt.target)
        (undoing[key] if key in action_keys else orphans).append(attempt)
    rows: list[str] = []
    for attempt in [*actions, *orphans]:
        for row in [_timeline_row(attempt, subject)] + [
            _timeline_row(c, subject) for c in undoing.pop((attempt.name, attempt.target), [])
        ]:
            if row not in rows:
                rows.append(row)
    return rows


def _bar_end(attempt: TimelineAttempt, now: dt.datetime) -> dt.datetime:
    if attempt.finished_at is not None:
        return attempt.finished_at
    if attempt.status == "pending":
        return now
    return attempt.deadline_at or now


def _bar_colour(attempt: TimelineAttempt) -> str:
    if attempt.kind == "compensation":
        return _COMPENSATION_COLOURS.get(attempt.status, _COMPENSATION_FAILED)
    return _ATTEMPT_COLOURS.get(attempt.status, _PALETTE[-1])


def _ms(start: dt.datetime, end: dt.datetime) -> float:
    return max((end - start).total_seconds() * 1000.0, 1.0)


def _bars(name: str, bars: list[dict[str, Any]], **style: Any) -> dict[str, Any]:
    return {
        "type": "bar",
        "orientation": "h",
        "name": name,
        "y": [bar["y"] for bar in bars],
        "base": [bar["base"] for bar in bars],
        "x": [bar["x"] for bar in bars],
        "text": [bar.get("text", "") for bar in bars],
        "hovertext": [bar["hover"] for bar in bars],
        "hoverinfo": "text",
        "textposition": "inside",
        "insidetextanchor": "middle",
        "cliponaxis": False,
        **style,
    }


def build_saga_timeline_figure(
    steps: Sequence[TimelineAttempt], *, now: dt.datetime | None = None, subject: str = ""
) -> go.Figure:
    """A saga's every attempt on a time axis: a bar per attempt, the wait before it, compensations under their step.

    A pending attempt is drawn up to ``now`` and its deadline as a faint bar beyond; each
    compensation gets its own row right under the action it undoes, in its own colour.
    A row's label names the step and its target, unless the target is ``subject`` (the order).
    """
    now = now or dt.datetime.now(dt.UTC)
    attempts: list[dict[str, Any]] = []
    waits: list[dict[str, Any]] = []
    deadlines: list[dict[str, Any]] = []
    for step in steps:
        row = _timeline_row(step, subject)
        end = _bar_end(step, now)
        outcome = step.outcome or step.status.replace("_", " ")
        hover = (
            f"{_text(step.name)} · attempt {step.attempt} of {step.max_attempts}<br>{_text(outcome)}"
            f"<br>{_ms(step.started_at, end):.0f} ms from {_iso(step.started_at)}"
        )
        attempts.append(
            {
                "y": row,
                "base": _iso(step.started_at),
                "x": _ms(step.started_at, end),
                "text": f"#{step.attempt}",
                "hover": hover,
                "colour": _bar_colour(step),
            }
        )
        if step.wait_before_ms > 0:
            waited_from = step.started_at - dt.timedelta(milliseconds=step.wait_before_ms)
            waits.append(
                {
                    "y": row,
                    "base": _iso(waited_from),
                    "x": float(step.wait_before_ms),
                    "hover": f"waited {step.wait_before_ms} ms before attempt {step.attempt}",
                }
            )
        if step.status == "pending" and step.deadline_at is not None and step.deadline_at > now:
            # A retry scheduled after its backoff has not started yet: its deadline counts from its start.
            waiting_from = max(now, step.started_at)
            deadlines.append(
                {
                    "y": row,
                    "base": _iso(waiting_from),
                    "x": _ms(waiting_from, step.deadline_at),
                    "hover": f"deadline {_iso(step.deadline_at)}",
                }
            )
    rows = _timeline_rows(steps, subject)
    traces = [
        _bars(
            "wait", waits, width=0.22, marker={"color": _WAIT_COLOUR, "pattern": {"shape": "/", "fgcolor": "#64748b"}}
        ),
        _bars(
            "until deadline",
            deadlines,
            width=0.6,
            marker={"color": "rgba(59,130,246,0.15)", "line": {"color": "#3b82f6", "width": 1}},
        ),
        _bars(
            "attempt",
            attempts,
            width=0.6,
            marker={"color": [bar["colour"] for bar in attempts], "line": {"color": "#fff", "width": 1}},
            textfont={"color": "#fff", "size": 10},
        ),
    ]
    layout = _layout(
        height=max(160, 34 * len(rows) + 70),
        hovermode="closest",
        barmode="overlay",
        margin={"l": 44, "r": 16, "t": 8, "b": 32},
        xaxis={**_AXIS, "type": "date"},
        yaxis={
            "type": "category",
            "automargin": True,
            "autorange": "reversed",
            "categoryorder": "array",
            "categoryarray": rows,
        },
    )
    if not steps:
        layout = _empty(layout, "no step has been sent yet")
    return go.Figure({"data": traces, "layout": layout})


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside a ``<script type="application/json">`` block."""
    return str(fig.to_json()).translate(_JSON_SCRIPT_ESCAPES)
