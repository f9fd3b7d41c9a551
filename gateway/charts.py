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
visitors' requests. Every word on the page comes from the language's [dashboard] texts (gateway/locales.py);
`data-*` attributes keep the data's own keys, so what tests and scripts read does not change with the language.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape
from typing import Any

from gateway.store.summary import BREAKDOWNS, DAY_ACTIONS
from gateway.vocabulary import CHOICES, OPTIONAL

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 30
HBAR_WIDTH, LABEL_WIDTH, ROW_HEIGHT = 480, 140, 24  # horizontal bars sit two abreast: a narrower viewBox
LABEL_CHARS = 16

# Okabe-Ito palette: distinguishable with the common forms of colour blindness.
COLORS: dict[str, str] = {
    "accept_all": "#009E73", "reject_all": "#D55E00", "custom": "#0072B2", "withdraw": "#CC79A7",
    "preferences": "#E69F00", "analytics": "#0072B2", "marketing": "#CC79A7",
}
Texts = Mapping[str, str]  # one language's [dashboard] table (config/locales/*.toml): series names are keys too


def esc(value: object) -> str:
    """Escape for HTML text and quoted attributes."""
    return escape(str(value), quote=True)


def fmt(value: float) -> str:
    """Short number for axis labels and attributes: no trailing zeros, at most 4 decimals."""
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def nice_ceiling(value: float) -> int:
    """Axis top for counts up to `value`: four equal whole ticks of 1/2/5 x 10^k, so labels stay round."""
    if value <= 0:
        return 4
    quarter = value / 4
    power: int = 10 ** max(math.floor(math.log10(quarter)), 0)
    return 4 * next(step * power for step in (1, 2, 5, 10) if step * power >= quarter)


def _svg_open(chart_id: str, height: float, title: str, desc: str, width: int = WIDTH) -> str:
    kind = "chart hbars" if width == HBAR_WIDTH else "chart"
    return (
        f'<svg class="{kind}" id="{esc(chart_id)}" viewBox="0 0 {width} {height:g}" role="img" '
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
    anchor = {0: "start", len(days) - 1: "end"} if len(days) > 1 else {}
    return [
        f'<text x="{xs[i]:.1f}" y="{height - 8}" text-anchor="{anchor.get(i, "middle")}" font-size="11" '
        f'fill="#444">{esc(days[i][5:])}</text>'
        for i in picks
    ]


def line_chart(chart_id: str, days: Sequence[str], series: Mapping[str, Sequence[float | None]],
               *, title: str, desc: str, labels: Texts, height: int = 260) -> str:
    """Rates (0..1) over days, one polyline per series; a day without data (None) breaks the line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    n = len(days)
    xs = [LEFT + (plot_w / 2 if n == 1 else i * plot_w / (n - 1)) for i in range(n)]
    radius = 3 if n <= 90 else 1.5  # a year of dots at full size would hide the lines
    parts = [_svg_open(chart_id, height, title, desc), *_y_axis(height, 100, "{}%")]
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
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{color}" data-series="{esc(name)}" '
                f'data-day="{esc(day)}" data-value="{fmt(float(value))}">'
                f"<title>{esc(day)} {esc(labels.get(name, name))}: {percent(value)}</title></circle>"
            )
        parts += [f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>'
                  for run in runs if len(run) > 1]
        parts += points
    return "".join(parts) + "</svg>"


def stacked_bars(chart_id: str, days: Sequence[str], rows: Sequence[Mapping[str, int]],
                 series: Sequence[str], *, title: str, desc: str, labels: Texts, height: int = 260) -> str:
    """Counts per day stacked bottom-up in `series` order; zero segments are kept (height 0) as data points."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    n = max(len(days), 1)
    band = plot_w / n
    top_value = nice_ceiling(max((sum(int(r.get(s, 0)) for s in series) for r in rows), default=0))
    xs = [LEFT + band * (i + 0.5) for i in range(len(days))]
    parts = [_svg_open(chart_id, height, title, desc), *_y_axis(height, top_value)]
    parts += _x_labels(days, xs, height)
    width = max(band * 0.8, 0.5)
    for x, day, row in zip(xs, days, rows):
        base: float = TOP + plot_h
        for name in series:
            value = int(row.get(name, 0))
            h = plot_h * value / top_value
            base -= h
            parts.append(
                f'<rect x="{x - width / 2:.2f}" y="{base:.2f}" width="{width:.2f}" height="{h:.2f}" '
                f'fill="{COLORS.get(name, "#333")}" data-day="{esc(day)}" data-series="{esc(name)}" '
                f'data-value="{value}"><title>{esc(day)} {esc(labels.get(name, name))}: {value}</title></rect>'
            )
    return "".join(parts) + "</svg>"


def hbars(chart_id: str, rows: Sequence[tuple[str, Mapping[str, int]]], series: Sequence[str],
          *, title: str, desc: str, labels: Texts, key_labels: Texts | None = None) -> str:
    """One horizontal stacked bar per key (a breakdown), longest first as given, total written at the end; a key
    with a name in ``key_labels`` (a device kind) is shown by that name, the others as they are."""
    height = 2 * TOP + ROW_HEIGHT * max(len(rows), 1)
    plot_w = HBAR_WIDTH - LABEL_WIDTH - RIGHT - 40
    top_value = max((sum(int(v.get(s, 0)) for s in series) for _, v in rows), default=0) or 1
    parts = [_svg_open(chart_id, height, title, desc, HBAR_WIDTH)]
    for i, (key, values) in enumerate(rows):
        y = TOP + i * ROW_HEIGHT
        shown = (key_labels or {}).get(key, key)
        short = shown if len(shown) <= LABEL_CHARS else shown[:LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end" font-size="13" fill="#222">'
                     f"<title>{esc(shown)}</title>{esc(short)}</text>")
        x = float(LABEL_WIDTH)
        for name in series:
            value = int(values.get(name, 0))
            w = plot_w * value / top_value
            parts.append(
                f'<rect x="{x:.2f}" y="{y + 3}" width="{w:.2f}" height="{ROW_HEIGHT - 6}" '
                f'fill="{COLORS.get(name, "#333")}" data-key="{esc(key)}" data-series="{esc(name)}" '
                f'data-value="{value}"><title>{esc(shown)} {esc(labels.get(name, name))}: {value}</title></rect>'
            )
            x += w
        total = sum(int(values.get(s, 0)) for s in series)
        parts.append(f'<text x="{x + 4:.2f}" y="{y + 16}" font-size="13" fill="#222">{total}</text>')
    return "".join(parts) + "</svg>"


def legend(series: Sequence[str], labels: Texts) -> str:
    """Colour key as HTML (wraps on narrow screens); swatches are tiny SVGs, so no inline style is needed."""
    items = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{COLORS.get(name, "#333")}"/></svg> {esc(labels.get(name, name))}</li>'
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


# --- the dashboard page ------------------------------------------------------------------------------------

QUICK_RANGES = (7, 30, 90, 365)
CSS = """\
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fafafa}
body{margin:0 auto;max-width:1100px;padding:1rem}
header{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;align-items:end}
h1{margin:0;font-size:1.5rem;flex-basis:100%}
.picker{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.85rem}
input,button{font:inherit;padding:.35rem .5rem}
nav a,.csv{margin-right:.75rem}
.langs{flex-basis:100%}.langs a[aria-current]{font-weight:600;text-decoration:none}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem;margin:0}
.kpis div{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
dt{font-size:.8rem;color:#555}dd{margin:0;font-size:1.4rem;font-weight:600}
section{margin-top:1.75rem}
.chart{width:100%;height:auto;background:#fff;border:1px solid #ddd;border-radius:6px}
.legend{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;padding:0;margin:.4rem 0}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,30rem),1fr));gap:1rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{padding:.25rem .5rem;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
caption{text-align:left;font-weight:600;padding:.25rem 0}
.error{background:#fdecea;border:1px solid #d55e00;padding:.5rem .75rem;border-radius:6px}
.note{color:#555}
@media (max-width:40rem){.chart text{font-size:19px}.hbars text{font-size:17px}}
@media print{form,nav,.csv{display:none}}
"""


def _details(t: Texts, caption: str, header: list[str], rows: list[list[object]]) -> str:
    return (f'<details><summary>{esc(t["table"])}</summary><div class="scroll">{table(caption, header, rows)}</div>'
            "</details>")


def _fill(template: str, **values: object) -> str:
    """A text with its {placeholders} filled (str.format would choke on a brace in a translation)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def _kpis(t: Texts, summary: dict[str, Any]) -> str:
    totals = summary["totals"]
    items = [("shown", t["shown"], totals["shown"]), ("decisions", t["decisions"], totals["decisions"]),
             ("interaction_rate", t["interaction_rate"], percent(summary["interaction_rate"]))]
    items += [(f"opt_in_{c}", _fill(t["opt_in"], category=t[c]), percent(summary["opt_in_rate"][c])) for c in OPTIONAL]
    items += [("gpc_share", t["gpc_share"], percent(summary["gpc_share"])),
              ("withdraw", t["withdrawals"], totals["withdraw"]), ("erase", t["erasures"], totals["erase"])]
    cells = "".join(f'<div><dt>{esc(label)}</dt><dd data-metric="{name}">{esc(value)}</dd></div>'
                    for name, label, value in items)
    return (f'<section aria-labelledby="h-kpi"><h2 id="h-kpi">{esc(t["headline"])}</h2><dl class="kpis">{cells}</dl>'
            "</section>")


def _breakdown(t: Texts, name: str, rows: list[dict[str, Any]]) -> str:
    title = t[name]
    rows = sorted(rows, key=lambda r: (-int(r["decisions"]), str(r["key"])))
    if not rows:
        return f'<div><h3 id="h-{name}">{esc(title)}</h3><p class="note">{esc(t["no_decisions"])}</p></div>'
    caption = _fill(t["breakdown_chart"], name=title)
    keys = {"desktop": t["desktop"], "mobile": t["mobile"], "tablet": t["tablet"], "other": t["other"]} \
        if name == "device" else {}
    chart = hbars(f"chart-{name}", [(str(r["key"]), r) for r in rows], CHOICES, title=caption,
                  desc=t["breakdown_desc"], labels=t, key_labels=keys)
    data = [[keys.get(str(r["key"]), r["key"]), r["decisions"], *(r[c] for c in CHOICES),
             *(percent(r["opt_in"][c]) for c in OPTIONAL)] for r in rows]
    header = [title, t["decisions"], *(t[c] for c in CHOICES), *(_fill(t["opt_in"], category=t[c]) for c in OPTIONAL)]
    return f'<div><h3 id="h-{name}">{esc(title)}</h3>{chart}{_details(t, caption, header, data)}</div>'


def _switch(t: Texts, lang: str, names: Mapping[str, str], query: str) -> str:
    """Links to the same page in each language, each named in its own language."""
    links = "".join(
        f'<a href="?{query}&amp;lang={esc(code)}" hreflang="{esc(code)}" lang="{esc(code)}"'
        f'{" aria-current=true" if code == lang else ""}>{esc(name)}</a>' for code, name in names.items())
    return f'<nav class="langs" aria-label="{esc(t["languages"])}">{links}</nav>'


def render_page(summary: dict[str, Any], *, today: date, texts: Texts, lang: str = "en",
                languages: Mapping[str, str] | None = None, error: str | None = None) -> str:
    """The whole dashboard for one summary in one language (``texts``, ``lang``), with links to the others
    (``languages``: code -> the language's own name); ``error`` explains a rejected range (the page then shows
    the default)."""
    t = texts
    start, end = summary["from"], summary["to"]
    query = f"from={esc(start)}&amp;to={esc(end)}"
    quick = "".join(
        f'<a href="?from={today - timedelta(days=n - 1)}&amp;to={today}&amp;lang={esc(lang)}"'
        f'{" aria-current=page" if (start, end) == (str(today - timedelta(days=n - 1)), str(today)) else ""}>'
        f"{esc(_fill(t['last_days'], n=n))}</a>" for n in QUICK_RANGES)
    days = summary["days"]
    labels = [d["day"] for d in days]
    # A day without decisions has no rate (the store says 0.0): leave a gap rather than draw a false dip.
    rates = {c: [d["opt_in"][c] if d["decisions"] else None for d in days] for c in OPTIONAL}
    opt_in = line_chart("chart-opt-in", labels, rates, title=t["opt_in_chart"], desc=t["opt_in_desc"], labels=t)
    mix = stacked_bars("chart-mix", labels, days, DAY_ACTIONS, title=t["mix_chart"], desc=t["mix_desc"], labels=t)
    hosts = summary["blocked_hosts"]
    host_table = (table(t["hosts_caption"], [t["host"], t["reports"]], [[h["host"], h["reports"]] for h in hosts])
                  if hosts else f'<p class="note">{esc(t["no_hosts"])}</p>')
    empty = '' if summary["totals"]["shown"] or summary["totals"]["decisions"] else \
        f'<p class="note">{esc(t["empty"])}</p>'
    period = _fill(t["range"], **{"from": start, "to": end, "timezone": summary["timezone"]})
    switch = _switch(t, lang, languages, query) if languages else ""
    return f"""<!doctype html>
<html lang="{esc(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(_fill(t["page_title"], **{"from": start, "to": end}))}</title><style>{CSS}</style></head>
<body><header><h1>{esc(t["title"])}</h1>{switch}
<p>{esc(period)}</p>
<form class="picker" method="get" action="" aria-label="{esc(t["range_form"])}">
<input type="hidden" name="lang" value="{esc(lang)}">
<label>{esc(t["from"])} <input type="date" name="from" value="{esc(start)}"></label>
<label>{esc(t["to"])} <input type="date" name="to" value="{esc(end)}"></label>
<button type="submit">{esc(t["show"])}</button></form>
<nav aria-label="{esc(t["quick_ranges"])}">{quick}</nav>
<a class="csv" href="api/summary.csv?{query}" download>{esc(t["csv"])}</a></header>
<main>{f'<p class="error" role="alert">{esc(error)}</p>' if error else ""}{empty}
{_kpis(t, summary)}
<section aria-labelledby="h-opt-in"><h2 id="h-opt-in">{esc(t["opt_in_title"])}</h2>{opt_in}{legend(OPTIONAL, t)}
{_details(t, t["opt_in_table"], [t["day"], *(t[c] for c in OPTIONAL)],
          [[d["day"], *(percent(r[i]) for r in rates.values())] for i, d in enumerate(days)])}</section>
<section aria-labelledby="h-mix"><h2 id="h-mix">{esc(t["mix_title"])}</h2>{mix}{legend(DAY_ACTIONS, t)}
{_details(t, t["mix_table"], [t["day"], t["shown"], t["decisions"], *(t[c] for c in DAY_ACTIONS)],
          [[d["day"], d["shown"], d["decisions"], *(d[c] for c in DAY_ACTIONS)] for d in days])}</section>
<section aria-labelledby="h-breakdowns"><h2 id="h-breakdowns">{esc(t["breakdowns"])}</h2>{legend(CHOICES, t)}
<div class="cols">{"".join(_breakdown(t, name, summary["breakdowns"][name]) for name in BREAKDOWNS)}</div></section>
<section aria-labelledby="h-hosts"><h2 id="h-hosts">{esc(t["hosts_title"])}</h2>
<div class="scroll">{host_table}</div></section>
</main></body></html>
"""
