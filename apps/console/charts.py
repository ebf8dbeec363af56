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
from typing import Any

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


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside a ``<script type="application/json">`` block."""
    return str(fig.to_json()).translate(_JSON_SCRIPT_ESCAPES)
