"""Charts as SVG markup, built on the server from report rows (pure functions).

No chart library and no network: each chart is a small `<svg>` whose data marks are `<rect
class="mark">` elements carrying `data-series`, `data-label` and `data-value`, each with a
`<title>` tooltip. The markup has no `xmlns` (the HTML parser puts inline `<svg>` in the SVG
namespace; the browser adds it when the page serializes a chart for download).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
WIDTH = 760
FONT = 11


@dataclass(frozen=True)
class Series:
    """One named series of values, aligned with the chart's categories."""

    name: str
    values: Sequence[float | int | None]


def fmt(value: float | int | None) -> str:
    """A number for labels: integers as such, others with at most 3 decimals."""
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top` (0..1 when there is nothing to show)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def _a(value: object) -> str:
    return escape(str(value), quote=True)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_a(title)}" font-family="sans-serif" font-size="{FONT}">'
        f"<title>{escape(title)}</title>"
        f'<rect class="bg" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        f'<text x="8" y="16" font-size="13" font-weight="bold" fill="#222">{escape(title)}</text>'
    )
    return head + "".join(body) + "</svg>"


def _empty(title: str, width: int = WIDTH, height: int = 80) -> str:
    msg = '<text class="empty" x="8" y="48" fill="#777">no data in this window</text>'
    return _frame(width, height, title, [msg])


def _legend(series: Sequence[Series], x: float, y: float, width: float) -> tuple[list[str], float]:
    """Legend swatches laid out in rows; returns the markup and the height used."""
    out: list[str] = []
    cx, cy = x, y
    for i, s in enumerate(series):
        label = _clip(s.name, 28)
        w = 18 + len(label) * 6.5 + 14
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 16
        color = PALETTE[i % len(PALETTE)]
        out.append(
            f'<rect x="{cx:.1f}" y="{cy - 9:.1f}" width="10" height="10" fill="{color}"/>'
            f'<text x="{cx + 14:.1f}" y="{cy:.1f}" fill="#333">{escape(label)}</text>'
        )
        cx += w
    return out, (cy - y) + 18


def column_chart(
    categories: Sequence[str], series: Sequence[Series], title: str, y_label: str = ""
) -> str:
    """Vertical columns per category, stacked when there are several series (time series)."""
    if not categories or not any(v for s in series for v in s.values):
        return _empty(title)
    width, plot_h = WIDTH, 220
    left, right = 62, 44  # room for the last slanted label
    legend: list[str] = []
    top = 28
    if len(series) > 1:
        legend, used = _legend(series, left, top + 12, width - left - right)
        top += used
    height = top + plot_h + 70
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(categories))]
    ticks = nice_ticks(max(totals))
    ymax = ticks[-1]
    plot_w = width - left - right
    band = plot_w / len(categories)
    bar_w = max(1.0, band * 0.8)
    base = top + plot_h

    def y(v: float) -> float:
        return base - v / ymax * plot_h

    body = list(legend)
    for t in ticks:
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            f'stroke="#e3e3e3"/><text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" '
            f'fill="#555">{fmt(t)}</text>'
        )
    if y_label:
        body.append(
            f'<text transform="translate(14,{top + plot_h / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle" fill="#555">{escape(y_label)}</text>'
        )
    every = max(1, math.ceil(len(categories) / (plot_w / 26)))
    for i, cat in enumerate(categories):
        x = left + i * band + (band - bar_w) / 2
        acc = 0.0
        for j, s in enumerate(series):
            v = s.values[i] or 0
            if v <= 0:
                continue
            y0, y1 = y(acc), y(acc + v)
            acc += v
            tip = f"{cat} · {s.name}: {fmt(v)}" if len(series) > 1 else f"{cat}: {fmt(v)}"
            body.append(
                f'<rect class="mark" data-series="{_a(s.name)}" data-label="{_a(cat)}" '
                f'data-value="{v}" x="{x:.2f}" y="{y1:.2f}" width="{bar_w:.2f}" '
                f'height="{max(0.5, y0 - y1):.2f}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if i % every == 0:
            cx = left + i * band + band / 2
            body.append(
                f'<text transform="translate({cx:.1f},{base + 10}) rotate(45)" fill="#555">'
                f"{escape(_clip(cat, 12))}</text>"
            )
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="#999"/>')
    return _frame(width, height, title, body)


def bar_chart(
    labels: Sequence[str], series: Sequence[Series], title: str, x_label: str = ""
) -> str:
    """Horizontal bars per label (categories); several series are grouped side by side."""
    if not labels or not any(v for s in series for v in s.values):
        return _empty(title)
    width, left, right = WIDTH, 230, 56
    top = 28
    legend: list[str] = []
    if len(series) > 1:
        legend, used = _legend(series, left, top + 12, width - left - right)
        top += used
    top += 8
    row = 18 * max(1, len(series)) + 6
    plot_w = width - left - right
    height = top + row * len(labels) + 30
    vmax = max((v or 0) for s in series for v in s.values)
    ticks = nice_ticks(vmax)
    xmax = ticks[-1]
    body = list(legend)
    bottom = top + row * len(labels)
    for t in ticks:
        x = left + t / xmax * plot_w
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#e3e3e3"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#555">{fmt(t)}</text>'
        )
    if x_label:
        body.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 27}" text-anchor="middle" '
            f'fill="#555">{escape(x_label)}</text>'
        )
    bar_h = 16
    for i, label in enumerate(labels):
        y0 = top + i * row + 3
        body.append(
            f'<text x="{left - 6}" y="{y0 + row / 2:.1f}" text-anchor="end" fill="#333">'
            f"<title>{escape(label)}</title>{escape(_clip(label, 36))}</text>"
        )
        for j, s in enumerate(series):
            v = s.values[i]
            if v is None:
                continue
            y = y0 + j * (bar_h + 2)
            w = max(0.5, (v / xmax) * plot_w) if v > 0 else 0
            tip = f"{label} · {s.name}: {fmt(v)}" if len(series) > 1 else f"{label}: {fmt(v)}"
            body.append(
                f'<rect class="mark" data-series="{_a(s.name)}" data-label="{_a(label)}" '
                f'data-value="{v}" x="{left}" y="{y:.1f}" width="{w:.2f}" height="{bar_h}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
                f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4:.1f}" fill="#333">{fmt(v)}</text>'
            )
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="#999"/>')
    return _frame(width, height, title, body)
