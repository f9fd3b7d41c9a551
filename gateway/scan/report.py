"""The scan report on disk: JSON as scan_site returns it, and one self-contained HTML page (inline CSS and
SVG, no script, nothing fetched) with the summary first, then a table per page and state."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #c8c8c8;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-all}
th{background:#f0f0f0}.leak{background:#fde8e8}.ok{color:#0b6b2f;font-weight:600}.bad{color:#a40e0e;font-weight:600}
.note{background:#fff6d6;border-left:4px solid #c99700;padding:.5rem .75rem}
code{font-size:.85rem}
"""
_BAR_TOTAL = "#5b7fa6"
_BAR_TRACKING = "#a40e0e"


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_html(report: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The few lines printed after a scan (and shown in the README)."""
    s = report["summary"]
    lines = [f"scanned {s['pages']} page(s) of {report['site']} in {report['duration_seconds']} s "
             f"({', '.join(report['states_scanned'])}; stopped: {report['stopped_by']})"]
    for state, n in s["requests_by_state"].items():
        lines.append(f"  {state:<7} {n['third_party']} third-party request(s), {n['not_necessary']} not necessary")
    for category, names in s["vendors_by_category"].items():
        lines.append(f"  {category}: {', '.join(names)}")
    unknown = report["unknown"]
    if unknown["hosts"] or unknown["cookies"]:
        hosts, cookies = ", ".join(unknown["hosts"]) or "-", ", ".join(unknown["cookies"]) or "-"
        lines.append(f"  unknown: hosts {hosts}; cookies {cookies}")
    lines += [f"  note: {n}" for n in report["notes"]]
    if report["leaks"]:
        lines.append(f"LEAKS: {len(report['leaks'])}")
        lines += [f"  {x['state']} {x['kind']} {x['what']} ({x['vendor']}, {x['category']}) on {x['page']}"
                  for x in report["leaks"]]
    else:
        lines.append("no leaks: nothing but necessary loads before consent or after a refusal")
    return lines


def render_html(report: dict[str, Any]) -> str:
    e = escape
    s = report["summary"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Consent scan of {e(report['site'])}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>Consent scan of <code>{e(report['site'])}</code></h1>",
        f"<p>Scanned {e(report['scanned_at'])}: {s['pages']} page(s) in {report['duration_seconds']} s, "
        f"states {e(', '.join(report['states_scanned']))}, stopped by {e(report['stopped_by'])}. "
        f"{e(report['generator'])}.</p>",
    ]
    parts += [f'<p class="note">{e(n)}</p>' for n in report["notes"]]
    parts.append("<h2>Leaks</h2>")
    if report["leaks"]:
        parts.append(f'<p class="bad">{len(report["leaks"])} leak(s): non-necessary loads before consent or '
                     "after a refusal.</p>")
        rows = [[x["page"], x["state"], x["kind"], x["what"], x["vendor"], x["category"], x.get("cause", ""),
                 x["fix"]] for x in report["leaks"]]
        parts.append(_table(["page", "state", "kind", "what", "vendor", "category", "caused by", "fix"], rows,
                            leak=True))
    else:
        parts.append('<p class="ok">No leaks: nothing but necessary loads before consent or after a refusal.</p>')
    parts.append("<h2>Vendors by category</h2>")
    rows = [[v["category"], v["name"], ", ".join(v["hosts"]), ", ".join(v["cookies"] + v["storage"]),
             str(v["pages"])] for v in report["vendors"]]
    parts.append(_table(["category", "vendor", "hosts", "cookies and storage", "pages"], rows))
    unknown = report["unknown"]
    if unknown["hosts"] or unknown["cookies"]:
        parts.append("<h3>Not in the catalogue</h3>")
        parts.append(_table(["hosts", "cookies"], [[", ".join(unknown["hosts"]), ", ".join(unknown["cookies"])]]))
    parts.append("<h2>Third-party requests per state</h2>")
    parts.append(_chart(s["requests_by_state"]))
    parts.append("<h2>Pages</h2>")
    for page in report["pages"]:
        parts.append(f"<h3><code>{e(page['url'])}</code></h3>")
        if page.get("error"):
            parts.append(f'<p class="bad">{e(page["error"])}</p>')
        for state, st in page["states"].items():
            parts.append(f"<h4>{e(state)}</h4>")
            parts += [f'<p class="bad">{e(x)}</p>' for x in st.get("errors", [])]
            rows = [["request", r["url"], r["type"], r["vendor"] or "unknown", r["category"],
                     r.get("initiator", ""), "/".join(r["loads"])] for r in st["requests"]]
            rows += [["cookie", c["name"], f"{c['party']}-party, {c['domain']}, "
                      f"{'session' if c['expires_days'] is None else str(c['expires_days']) + ' d'}",
                      c["vendor"] or "unknown", c["category"], c.get("set_by", ""), "/".join(c["loads"])]
                     for c in st["cookies"]]
            rows += [["storage", k["key"], k["area"], k["vendor"] or "unknown", k["category"], k.get("set_by", ""),
                      "/".join(k["loads"])] for k in st["storage"]]
            parts.append(_table(["kind", "what", "details", "vendor", "category", "caused by", "seen"], rows)
                         if rows else "<p>Nothing from another host, no cookies, no storage.</p>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]], leak: bool = False) -> str:
    cls = ' class="leak"' if leak else ""
    out = ["<table>", "<tr>" + "".join(f'<th scope="col">{escape(h)}</th>' for h in head) + "</tr>"]
    out += [f"<tr{cls}>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</table>")
    return "\n".join(out)


def _chart(per_state: dict[str, dict[str, int]]) -> str:
    """Horizontal bars: all third-party requests per state, and the non-necessary part of them in red."""
    top = max([n["third_party"] for n in per_state.values()] + [1])
    width, bar, label = 520, 22, 70
    height = len(per_state) * (bar + 12) + 30
    svg = [f'<svg role="img" aria-labelledby="chart-title" width="{width + label + 60}" height="{height}" '
           f'viewBox="0 0 {width + label + 60} {height}" xmlns="http://www.w3.org/2000/svg">',
           '<title id="chart-title">Third-party requests per state (red: not necessary)</title>']
    for i, (state, n) in enumerate(per_state.items()):
        y = 10 + i * (bar + 12)
        total = width * n["third_party"] / top
        tracking = width * n["not_necessary"] / top
        svg += [f'<text x="0" y="{y + 16}" font-size="14">{escape(state)}</text>',
                f'<rect x="{label}" y="{y}" width="{total:.1f}" height="{bar}" fill="{_BAR_TOTAL}"/>',
                f'<rect x="{label}" y="{y}" width="{tracking:.1f}" height="{bar}" fill="{_BAR_TRACKING}"/>',
                f'<text x="{label + total + 6:.1f}" y="{y + 16}" font-size="14">{n["third_party"]} '
                f'({n["not_necessary"]} not necessary)</text>']
    y = height - 8
    svg += [f'<rect x="{label}" y="{y - 10}" width="10" height="10" fill="{_BAR_TRACKING}"/>',
            f'<text x="{label + 14}" y="{y}" font-size="12">not necessary</text>',
            f'<rect x="{label + 120}" y="{y - 10}" width="10" height="10" fill="{_BAR_TOTAL}"/>',
            f'<text x="{label + 134}" y="{y}" font-size="12">necessary or allow-listed</text>', "</svg>"]
    return "\n".join(svg)
