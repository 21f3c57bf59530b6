"""Plotly charts of the lab's runs (a DataFrame from lib.lab.table). Texts come in translated."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PHASES = ("load_s", "prompt_eval_s", "eval_s", "other_s")  # stacked bottom to top
COLORS = {"load_s": "#9467bd", "prompt_eval_s": "#ff7f0e", "eval_s": "#1f77b4", "other_s": "#b0b0b0"}


def _finished(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["ok"]]


def timing(runs: pd.DataFrame, labels: dict) -> go.Figure:
    """Per run: load, prompt evaluation, generation and the rest of the wall time, stacked."""
    done = _finished(runs)
    names = [f"#{r.run}" for r in done.itertuples()]  # short ticks; the hover says which run
    details = [f"{r.model} · {r.condition} · {r.repetition}" for r in done.itertuples()]
    figure = go.Figure([go.Bar(name=labels[phase], x=names, y=done[phase].fillna(0.0), hovertext=details,
                               marker_color=COLORS[phase]) for phase in PHASES])
    figure.update_layout(separators=labels["separators"], barmode="stack", yaxis_title=labels["seconds"], margin={"t": 30},
                         legend={"orientation": "h", "y": 1.12})
    return figure


def speed(runs: pd.DataFrame, labels: dict) -> go.Figure:
    """Tokens per second of every run, per condition, one colour per model."""
    done = _finished(runs).dropna(subset=["tokens_per_second"])
    figure = go.Figure([go.Box(name=model, x=rows["condition"], y=rows["tokens_per_second"],
                               boxpoints="all", jitter=0.3)
                        for model, rows in done.groupby("model", sort=False)])
    figure.update_layout(separators=labels["separators"], boxmode="group", yaxis_title="tokens/s", legend_orientation="h", margin={"t": 30})
    return figure


def cold_and_warm(runs: pd.DataFrame, labels: dict) -> go.Figure:
    """Load time of runs that found the model unloaded (cold) and loaded (warm)."""
    done = _finished(runs)
    figure = go.Figure([go.Box(name=labels["cold" if cold else "warm"], y=rows["load_s"].fillna(0.0),
                               boxpoints="all")
                        for cold, rows in done.groupby("cold", sort=True)])
    figure.update_layout(separators=labels["separators"], yaxis_title=labels["load_seconds"], showlegend=False, margin={"t": 30})
    return figure


def models_compared(runs: pd.DataFrame, labels: dict) -> go.Figure:
    """The course's exercise: the same prompt on several models, mean time and speed."""
    means = _finished(runs).groupby("model", sort=False)[["wall_s", "tokens_per_second"]].mean()
    figure = go.Figure([
        go.Bar(name=labels["wall"], x=means.index, y=means["wall_s"], yaxis="y", offsetgroup=0),
        go.Bar(name="tokens/s", x=means.index, y=means["tokens_per_second"], yaxis="y2", offsetgroup=1),
    ])
    figure.update_layout(separators=labels["separators"], yaxis={"title": labels["seconds"]},
                         yaxis2={"title": "tokens/s", "overlaying": "y", "side": "right"},
                         barmode="group", legend_orientation="h", margin={"t": 30})
    return figure
