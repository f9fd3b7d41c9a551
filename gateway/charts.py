"""Charts for the analyst dashboard, rendered on the server as inline SVG.

Why inline SVG from Python rather than a JavaScript chart library:
- zero dependencies: nothing to vendor, audit or keep patched, and no CDN (the gateway is self-hosted so that
  visitors' data never leaves the operator's servers; the dashboard follows the same rule);
- works under a strict Content-Security-Policy: no script at all, no inline style attributes (colours are SVG
  presentation attributes, which CSP does not govern);
- printable, readable without JavaScript, and sized by `viewBox` so one chart fits a phone and a projector;
- testable: every data point is an element carrying `data-*` attributes and a `<title>` tooltip, so tests read
  the numbers back exactly, and every chart has a table fallback for screen readers.

Everything that reaches the markup goes through `esc`: keys (browser families, languages, hosts) come from
visitors' requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
LABEL_WIDTH = 150  # horizontal bars: room for the key on the left
ROW_HEIGHT = 22

# Okabe-Ito palette: distinguishable with the common forms of colour blindness.
COLORS: dict[str, str] = {
    "accept_all": "#009E73", "reject_all": "#D55E00", "custom": "#0072B2", "withdraw": "#CC79A7",
    "preferences": "#E69F00", "analytics": "#0072B2", "marketing": "#CC79A7",
}
LABELS: dict[str, str] = {
    "accept_all": "Accept all", "reject_all": "Reject all", "custom": "Custom", "withdraw": "Withdraw",
    "preferences": "Preferences", "analytics": "Analytics", "marketing": "Marketing",
}


def esc(value: object) -> str:
    """Escape for HTML text and quoted attributes."""
    return escape(str(value), quote=True)


def fmt(value: float) -> str:
    """Short number for axis labels and attributes: no trailing zeros, at most 4 decimals."""
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def nice_ceiling(value: float) -> float:
    """Smallest 1/2/5 x 10^k not below `value`, so axis ticks land on round numbers."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _svg_open(chart_id: str, height: float, title: str, desc: str) -> str:
    return (
        f'<svg class="chart" id="{esc(chart_id)}" viewBox="0 0 {WIDTH} {height:g}" role="img" '
        f'aria-labelledby="{esc(chart_id)}-t {esc(chart_id)}-d" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{esc(chart_id)}-t">{esc(title)}</title><desc id="{esc(chart_id)}-d">{esc(desc)}</desc>'
    )


def _y_axis(height: float, top_value: float, label: str = "{}") -> list[str]:
    """Four horizontal grid lines with their values."""
    plot = height - TOP - BOTTOM
    parts = []
    for i in range(5):
        y = TOP + plot * (1 - i / 4)
        text = label.format(fmt(top_value * i / 4))
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#444">{esc(text)}</text>'
        )
    return parts


def _x_labels(days: Sequence[str], xs: Sequence[float], height: float) -> list[str]:
    """At most seven day labels (MM-DD) so they never overlap, first and last always shown."""
    if not days:
        return []
    step = max(1, math.ceil(len(days) / 7))
    picks = sorted({*range(0, len(days), step), len(days) - 1})
    if len(picks) > 1 and picks[-1] - picks[-2] < step / 2:
        picks.pop(-2)
    return [
        f'<text x="{xs[i]:.1f}" y="{height - 8}" text-anchor="middle" font-size="11" fill="#444">'
        f"{esc(days[i][5:])}</text>"
        for i in picks
    ]


def line_chart(chart_id: str, days: Sequence[str], series: Mapping[str, Sequence[float | None]],
               *, title: str, height: int = 260) -> str:
    """Rates (0..1) over days, one polyline per series; a day without data (None) breaks the line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    n = len(days)
    xs = [LEFT + (plot_w / 2 if n == 1 else i * plot_w / (n - 1)) for i in range(n)]
    parts = [_svg_open(chart_id, height, title, "Rate per day, 0 to 100 percent."), *_y_axis(height, 100, "{}%")]
    parts += _x_labels(days, xs, height)
    for name, values in series.items():
        color = COLORS.get(name, "#333")
        runs: list[list[str]] = [[]]
        points = []
        for x, day, value in zip(xs, days, values):
            if value is None:
                runs.append([])
                continue
            y = TOP + plot_h * (1 - value)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            points.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}" data-series="{esc(name)}" '
                f'data-day="{esc(day)}" data-value="{fmt(float(value))}">'
                f"<title>{esc(day)} {esc(LABELS.get(name, name))}: {percent(value)}</title></circle>"
            )
        parts += [f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>'
                  for run in runs if len(run) > 1]
        parts += points
    return "".join(parts) + "</svg>"


def stacked_bars(chart_id: str, days: Sequence[str], rows: Sequence[Mapping[str, int]],
                 series: Sequence[str], *, title: str, height: int = 260) -> str:
    """Counts per day stacked bottom-up in `series` order; zero segments are kept (height 0) as data points."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    n = max(len(days), 1)
    band = plot_w / n
    top_value = nice_ceiling(max((sum(int(r.get(s, 0)) for s in series) for r in rows), default=0))
    xs = [LEFT + band * (i + 0.5) for i in range(len(days))]
    parts = [_svg_open(chart_id, height, title, "Decisions per day by kind."), *_y_axis(height, top_value)]
    parts += _x_labels(days, xs, height)
    width = max(band * 0.8, 0.5)
    for x, day, row in zip(xs, days, rows):
        base = TOP + plot_h
        for name in series:
            value = int(row.get(name, 0))
            h = plot_h * value / top_value
            base -= h
            parts.append(
                f'<rect x="{x - width / 2:.2f}" y="{base:.2f}" width="{width:.2f}" height="{h:.2f}" '
                f'fill="{COLORS.get(name, "#333")}" data-day="{esc(day)}" data-series="{esc(name)}" '
                f'data-value="{value}"><title>{esc(day)} {esc(LABELS.get(name, name))}: {value}</title></rect>'
            )
    return "".join(parts) + "</svg>"


def hbars(chart_id: str, rows: Sequence[tuple[str, Mapping[str, int]]], series: Sequence[str],
          *, title: str) -> str:
    """One horizontal stacked bar per key (a breakdown), longest first as given, total written at the end."""
    height = TOP + BOTTOM + ROW_HEIGHT * max(len(rows), 1)
    plot_w = WIDTH - LABEL_WIDTH - RIGHT - 40
    top_value = max((sum(int(v.get(s, 0)) for s in series) for _, v in rows), default=0) or 1
    parts = [_svg_open(chart_id, height, title, "Decisions per key by kind.")]
    for i, (key, values) in enumerate(rows):
        y = TOP + i * ROW_HEIGHT
        short = key if len(key) <= 20 else key[:19] + "…"
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12" fill="#222">'
                     f"<title>{esc(key)}</title>{esc(short)}</text>")
        x = float(LABEL_WIDTH)
        for name in series:
            value = int(values.get(name, 0))
            w = plot_w * value / top_value
            parts.append(
                f'<rect x="{x:.2f}" y="{y + 3}" width="{w:.2f}" height="{ROW_HEIGHT - 6}" '
                f'fill="{COLORS.get(name, "#333")}" data-key="{esc(key)}" data-series="{esc(name)}" '
                f'data-value="{value}"><title>{esc(key)} {esc(LABELS.get(name, name))}: {value}</title></rect>'
            )
            x += w
        total = sum(int(values.get(s, 0)) for s in series)
        parts.append(f'<text x="{x + 4:.2f}" y="{y + 15}" font-size="12" fill="#222">{total}</text>')
    return "".join(parts) + "</svg>"


def legend(series: Sequence[str]) -> str:
    """Colour key as HTML (wraps on narrow screens); swatches are tiny SVGs, so no inline style is needed."""
    items = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{COLORS.get(name, "#333")}"/></svg> {esc(LABELS.get(name, name))}</li>'
        for name in series
    )
    return f'<ul class="legend">{items}</ul>'


def table(caption: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain data table: the exact numbers behind a chart, for screen readers and copy-paste."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
