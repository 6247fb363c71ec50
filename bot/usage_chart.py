"""The chart beside `/imagine-admin usage`'s CSV: credits charged per day by model, and USD spent.

Drawn with matplotlib's Agg canvas (no pyplot, no display, no global state), so it can render in a
worker thread. The picture carries its own opaque background, so it reads the same in Discord's dark
and light themes, and its PNG metadata names the days and models it shows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.catalogue import get_model

# An opaque card: light text on a dark slate, a contrast ratio above 12:1 (WCAG AAA asks for 7:1).
BACKGROUND = "#1e1f22"
FOREGROUND = "#f2f3f5"
GRID = "#4e5058"
USD_LINE = "#f2f3f5"
# Okabe and Ito's palette: told apart with every common colour-vision deficiency.
MODEL_COLOURS = ("#56b4e9", "#e69f00", "#009e73", "#cc79a7", "#f0e442", "#d55e00", "#0072b2")


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """Credits per model and USD, one entry per day of the window (days without use included)."""

    days: tuple[dt.date, ...]
    credits: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    usd: tuple[float, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.credits)


def daily_usage(
    rows: Iterable[Mapping[str, object]], *, first_day: dt.date, days: int, timezone: str
) -> DailyUsage:
    """Sum usage rows (``created_at``, ``model``, ``credits_charged``, ``usd``) per local day."""
    zone = ZoneInfo(timezone)
    window = tuple(first_day + dt.timedelta(days=n) for n in range(days))
    index = {day: n for n, day in enumerate(window)}
    credits: dict[str, list[int]] = {}
    usd = [0.0] * days
    for row in rows:
        created = row.get("created_at")
        if not isinstance(created, int | float):
            continue
        day = dt.datetime.fromtimestamp(created, zone).date()
        n = index.get(day)
        if n is None:
            continue
        charged = row.get("credits_charged")
        if isinstance(charged, int) and charged > 0:
            per_model = credits.setdefault(str(row.get("model")), [0] * days)
            per_model[n] += charged
        spent = row.get("usd")
        if isinstance(spent, int | float):
            usd[n] += float(spent)
    ordered = sorted(credits.items(), key=lambda item: (-sum(item[1]), item[0]))
    return DailyUsage(
        days=window,
        credits={model: tuple(values) for model, values in ordered},
        usd=tuple(usd),
    )


def _label(model_id: str) -> str:
    model = get_model(model_id)
    return model.name if model else model_id


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The chart's words, from bot/texts.py like every other message."""

    title: str
    credits: str
    usd: str


def render_png(usage: DailyUsage, labels: ChartLabels) -> bytes:
    """The chart as PNG bytes; CPU-bound, so callers run it in a worker thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(9, 4.5), dpi=100, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_facecolor(BACKGROUND)
    positions = list(range(len(usage.days)))
    bottoms = [0] * len(usage.days)
    for n, (model, values) in enumerate(usage.credits.items()):
        axes.bar(
            positions,
            values,
            bottom=bottoms,
            color=MODEL_COLOURS[n % len(MODEL_COLOURS)],
            label=_label(model),
            width=0.7,
        )
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_ylabel(labels.credits, color=FOREGROUND)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0, top=max(1, *bottoms) * 1.15)
    step = max(1, -(-len(positions) // 10))
    axes.set_xticks(positions[::step], [day.strftime("%b %d") for day in usage.days][::step])
    axes.tick_params(axis="x", labelrotation=30 if len(positions[::step]) > 7 else 0)
    spend = axes.twinx()
    spend.plot(positions, usage.usd, color=USD_LINE, marker="o", linewidth=2, label=labels.usd)
    spend.set_ylabel(labels.usd, color=FOREGROUND)
    spend.set_ylim(bottom=0, top=max(0.01, *usage.usd) * 1.15)
    spend.yaxis.set_major_formatter("${x:,.2f}")
    for ax in (axes, spend):
        ax.tick_params(colors=FOREGROUND)
        for spine in ax.spines.values():
            spine.set_color(GRID)
    axes.grid(axis="y", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    figure.suptitle(labels.title, color=FOREGROUND)
    handles, names = axes.get_legend_handles_labels()
    line_handles, line_labels = spend.get_legend_handles_labels()
    legend = axes.legend(
        handles + line_handles,
        names + line_labels,
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=3,
        frameon=False,
        labelcolor=FOREGROUND,
        fontsize="small",
    )
    legend.set_zorder(5)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(
        out,
        format="png",
        facecolor=BACKGROUND,
        metadata={"Title": labels.title, "Description": describe(usage), "Software": None},
    )
    return out.getvalue()


def describe(usage: DailyUsage) -> str:
    """What the chart shows, as JSON in the PNG's metadata: the days and the models, in order."""
    return json.dumps(
        {
            "days": [day.isoformat() for day in usage.days],
            "models": list(usage.models),
            "credits": {model: list(values) for model, values in usage.credits.items()},
        }
    )


def rows_as_mappings(
    rows: Sequence[Sequence[object]], columns: Sequence[str]
) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]
