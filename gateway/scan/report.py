"""The scan report on disk: JSON as scan_site returns it, and one self-contained HTML page (inline CSS and
SVG, no script, nothing fetched) with the summary first, then a table per page and state.

The HTML speaks ru, kk and en: the page holds the report once per language, the chosen one first; links
(``#report-kk``...) switch with CSS ``:target``, so the file works offline, without script, and a link to
``report.html#report-en`` opens it in English. The JSON and the terminal summary stay in English, for machines.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ..locales import UI_LANGUAGES, ui_texts
from ..resources import CONFIG_DIR
from ..scanfile import OWN_VENDOR
from ..vocabulary import CATEGORIES
from .scanner import NOTE_NO_BANNER, NOTE_OFFLINE

LANGUAGES = UI_LANGUAGES
_NOTES = {NOTE_NO_BANNER: "note_no_banner", NOTE_OFFLINE: "note_offline"}

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #c8c8c8;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f0f0f0;word-break:normal;hyphens:auto}.leak{background:#fde8e8}.ok{color:#0b6b2f;font-weight:600}.bad{color:#a40e0e;font-weight:600}
.note{background:#fff6d6;border-left:4px solid #c99700;padding:.5rem .75rem}
code{font-size:.85rem}
.langs a{margin-right:.75rem}
.report{display:none}.report:target,.report.first{display:block}.report:target~.first{display:none}
"""
_BAR_TOTAL = "#5b7fa6"
_BAR_TRACKING = "#a40e0e"


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_html(report: dict[str, Any], path: Path, lang: str = "en") -> None:
    path.write_text(render_html(report, lang), encoding="utf-8")


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


def render_html(report: dict[str, Any], lang: str = "en") -> str:
    """The whole page: the report in every language, ``lang`` shown first (an unknown one counts as English)."""
    texts = ui_texts("scan_report", lambda code: CONFIG_DIR / "locales" / f"{code}.toml")
    first = lang if lang in texts else "en"
    t = texts[first]
    # The chosen language last in the document, so the others' :target can hide it (a~b reaches only later siblings).
    order = [code for code in texts if code != first] + [first]
    parts = ["<!DOCTYPE html>", f'<html lang="{first}">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(t['title'].replace('{site}', report['site']))}</title>", f"<style>{_CSS}</style>",
             "</head>", "<body>"]
    parts += [_report(report, code, texts[code], texts, code == first) for code in order]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _report(report: dict[str, Any], lang: str, t: dict[str, str], texts: dict[str, dict[str, str]],
            first: bool) -> str:
    e = escape
    s = report["summary"]

    def cat(c: str) -> str:
        return t[c] if c in CATEGORIES else c

    def seen(item: dict[str, Any]) -> str:
        return "/".join(t.get(x, x) for x in item["loads"])

    def who(item: dict[str, Any]) -> str:
        return t["unknown"] if not item["vendor"] else t["own_vendor"] if item["vendor"] == OWN_VENDOR \
            else str(item["vendor"])
    states = ", ".join(t.get(x, x) for x in report["states_scanned"])
    scanned = _fill(t["scanned"], at=report["scanned_at"], pages=s["pages"], seconds=report["duration_seconds"],
                    states=states, stopped=t.get("stopped_" + report["stopped_by"], report["stopped_by"]))
    switch = "".join(f'<a href="#report-{code}" hreflang="{code}" lang="{code}"'
                     f'{" aria-current=true" if code == lang else ""}>{e(other["language_name"])}</a>'
                     for code, other in texts.items())
    parts = [
        f'<div class="report{" first" if first else ""}" id="report-{lang}" lang="{lang}">',
        f'<nav class="langs" aria-label="{e(t["languages"])}">{switch}</nav>',
        f"<h1>{e(t['title']).replace('{site}', '<code>' + e(report['site']) + '</code>')}</h1>",
        f"<p>{e(scanned)} {e(report['generator'])}.</p>",
    ]
    parts += [f'<p class="note">{e(t[_NOTES[n]] if n in _NOTES else n)}</p>' for n in report["notes"]]
    parts.append(f"<h2>{e(t['leaks'])}</h2>")
    if report["leaks"]:
        parts.append(f'<p class="bad">{e(_fill(t["leak_count"], n=len(report["leaks"])))}</p>')
        rows = [[x["page"], t.get(x["state"], x["state"]), t.get(x["kind"], x["kind"]), x["what"],
                 t["unknown"] if x["vendor"] == "unknown" else x["vendor"], cat(x["category"]), x.get("cause", ""),
                 _fix(t, x)] for x in report["leaks"]]
        parts.append(_table([t[k] for k in ("page", "state", "kind", "what", "vendor", "category", "cause", "fix")],
                            rows, leak=True))
    else:
        parts.append(f'<p class="ok">{e(t["no_leaks"])}</p>')
    parts.append(f"<h2>{e(t['vendors'])}</h2>")
    rows = [[cat(v["category"]), t["own_vendor"] if v["vendor"] == OWN_VENDOR else v["name"], ", ".join(v["hosts"]),
             ", ".join(v["cookies"] + v["storage"]), str(v["pages"])] for v in report["vendors"]]
    parts.append(_table([t[k] for k in ("category", "vendor", "hosts", "cookies_storage", "pages_count")], rows))
    unknown = report["unknown"]
    if unknown["hosts"] or unknown["cookies"]:
        parts.append(f"<h3>{e(t['unknown_title'])}</h3>")
        parts.append(_table([t["hosts"], t["cookies"]], [[", ".join(unknown["hosts"]), ", ".join(unknown["cookies"])]]))
    parts.append(f"<h2>{e(t['chart'])}</h2>")
    parts.append(_chart(s["requests_by_state"], t, lang))
    parts.append(f"<h2>{e(t['pages'])}</h2>")
    for page in report["pages"]:
        parts.append(f"<h3><code>{e(page['url'])}</code></h3>")
        if page.get("error"):
            parts.append(f'<p class="bad">{e(page["error"])}</p>')
        for state, st in page["states"].items():
            parts.append(f"<h4>{e(t.get(state, state))}</h4>")
            parts += [f'<p class="bad">{e(x)}</p>' for x in st.get("errors", [])]
            rows = [[t["request"], r["url"], r["type"], who(r), cat(r["category"]), r.get("initiator", ""), seen(r)]
                    for r in st["requests"]]
            rows += [[t["cookie"], c["name"], f"{t['first_party' if c['party'] == 'first' else 'third_party']}, "
                      f"{c['domain']}, "
                      f"{t['session'] if c['expires_days'] is None else _fill(t['days'], days=c['expires_days'])}",
                      who(c), cat(c["category"]), c.get("set_by", ""), seen(c)] for c in st["cookies"]]
            rows += [[t["storage"], k["key"], k["area"], who(k), cat(k["category"]), k.get("set_by", ""), seen(k)]
                     for k in st["storage"]]
            head = [t[k] for k in ("kind", "what", "details", "vendor", "category", "cause", "seen")]
            parts.append(_table(head, rows) if rows else f"<p>{e(t['nothing'])}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def _fill(template: str, **values: object) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def _fix(t: dict[str, str], leak: dict[str, Any]) -> str:
    """The leak's suggested fix in the report's language (the JSON keeps the English one)."""
    kind = ("fix_unknown_request" if leak["vendor"] == "unknown" else "fix_request") if leak["kind"] == "request" \
        else "fix_cookie" if leak["kind"] == "cookie" else "fix_storage"
    category = leak["category"]
    return _fill(t[kind], category=category, category_name=t.get(category, category))


def _table(head: list[str], rows: list[list[str]], leak: bool = False) -> str:
    cls = ' class="leak"' if leak else ""
    out = ["<table>", "<tr>" + "".join(f'<th scope="col">{escape(h)}</th>' for h in head) + "</tr>"]
    out += [f"<tr{cls}>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</table>")
    return "\n".join(out)


def _chart(per_state: dict[str, dict[str, int]], t: dict[str, str], lang: str) -> str:
    """Horizontal bars: all third-party requests per state, and the non-necessary part of them in red."""
    top = max([n["third_party"] for n in per_state.values()] + [1])
    names = {state: t.get(state, state) for state in per_state}
    label = max(70, 8 * max((len(n) for n in names.values()), default=0) + 10)
    width, bar = 520, 22
    height = len(per_state) * (bar + 12) + 30
    full = width + label + 200
    svg = [f'<svg role="img" aria-labelledby="chart-title-{lang}" width="{full}" height="{height}" '
           f'viewBox="0 0 {full} {height}" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="chart-title-{lang}">{escape(t["chart_title"])}</title>']
    for i, (state, n) in enumerate(per_state.items()):
        y = 10 + i * (bar + 12)
        total = width * n["third_party"] / top
        tracking = width * n["not_necessary"] / top
        value = _fill(t["chart_value"], total=n["third_party"], not_necessary=n["not_necessary"])
        svg += [f'<text x="0" y="{y + 16}" font-size="14">{escape(names[state])}</text>',
                f'<rect x="{label}" y="{y}" width="{total:.1f}" height="{bar}" fill="{_BAR_TOTAL}"/>',
                f'<rect x="{label}" y="{y}" width="{tracking:.1f}" height="{bar}" fill="{_BAR_TRACKING}"/>',
                f'<text x="{label + total + 6:.1f}" y="{y + 16}" font-size="14">{escape(value)}</text>']
    y = height - 8
    gap = 8 * len(t["not_necessary"]) + 40
    svg += [f'<rect x="{label}" y="{y - 10}" width="10" height="10" fill="{_BAR_TRACKING}"/>',
            f'<text x="{label + 14}" y="{y}" font-size="12">{escape(t["not_necessary"])}</text>',
            f'<rect x="{label + gap}" y="{y - 10}" width="10" height="10" fill="{_BAR_TOTAL}"/>',
            f'<text x="{label + gap + 14}" y="{y}" font-size="12">{escape(t["necessary_or_allowed"])}</text>',
            "</svg>"]
    return "\n".join(svg)
