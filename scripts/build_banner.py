"""Build the served banner from its source: static/banner/src/banner.{js,css} -> static/banner/banner.{js,css}.

    python scripts/build_banner.py           # rewrite the served files
    python scripts/build_banner.py --check   # exit 1 if they are not what the source builds to

Pure Python, no node toolchain: comments and layout whitespace go and nothing is reordered, so the served
file reads like the source without its comments, with the banner's own long names (LOCALS) shortened. A small
tokenizer keeps string, template and regular expression literals intact. JavaScript keeps the line breaks
where automatic semicolon insertion could apply; CSS is joined on one line. tests/browser/test_banner_size.py
checks the served files are up to date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "static" / "banner" / "src"
OUT = ROOT / "static" / "banner"

PUNCT = set("{}()[];,:=+-*/%<>!&|?~^.")
# After one of these a "/" starts a regular expression literal, not a division.
REGEX_AFTER = set("([{,;:=!&|?+-*%<>~^") | {""}
REGEX_KEYWORDS = ("return", "typeof", "case", "do", "else", "in", "of", "void", "delete", "throw", "new")


def _literal_end(src: str, i: int) -> int:
    """Index just past the string or template literal starting at src[i]."""
    quote, j = src[i], i + 1
    while src[j] != quote:
        j += 2 if src[j] == "\\" else 1
    return j + 1


def _regex_end(src: str, i: int) -> int:
    j, in_class = i + 1, False
    while in_class or src[j] != "/":
        if src[j] == "\\":
            j += 1
        elif src[j] == "[":
            in_class = True
        elif src[j] == "]":
            in_class = False
        j += 1
    j += 1
    while j < len(src) and src[j].isalpha():
        j += 1
    return j


# The banner's own top-level names, shortened in the served file. Only names that are never an object key
# or a property of the public API go here; _local refuses a shorthand key ({name}) it cannot rename safely.
LOCALS = ("reopenBtn", "root", "prevFocus", "decided", "granted", "button", "detailsReq",
          "closeSettings", "choose", "layer", "cfg", "listeners", "announced", "esc", "state", "items",
          "FALLBACK", "noop", "renderReopen", "cssReady", "consentMode", "loadDetails", "changes", "CATS", "queue",
          "ready", "cats", "vendorList", "opener", "api", "activate", "domReady", "apply", "swapAttrs",
          "runScript", "restoreCss", "render", "onKey", "onClick", "link", "media", "base", "lang", "close", "open")


def _short_names(src: str) -> dict[str, str]:
    """LOCALS -> short names that occur nowhere in the source (so they shadow and collide with nothing)."""
    taken = set(re.findall(r"[A-Za-z_$][\w$]*", src))
    pool = (a + b for b in ("", *"0123456789") for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    free = (name for name in pool if name not in taken)
    return {name: next(free) for name in LOCALS}


def _local(word: str, before: str, after: str, names: dict[str, str]) -> str:
    short = names.get(word)
    if short is None or before == ".":  # not ours, or a property: obj.close stays obj.close
        return word
    if before in "{," and after == ":":  # an object key: {lang: lang} -> {lang: X}
        return word
    if before == "{" and after in ",}" or before == "," and after == "}":
        raise ValueError(f"{word!r} looks like a shorthand property: write {word}: {word} in the source")
    return short


def minify_js(src: str) -> str:
    names = _short_names(src)
    out: list[str] = []
    line: list[str] = []

    def last() -> str:
        text = "".join(line).rstrip()
        return text[-1:] if text else (out[-1][-1:] if out else "")

    def prev_word() -> str:
        m = re.search(r"([A-Za-z_$][\w$]*)\s*$", "".join(line))
        return m.group(1) if m else ""

    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            i = src.index("*/", i) + 2
        elif c in "\"'`":
            j = _literal_end(src, i)
            line.append(src[i:j])
            i = j
        elif c == "/" and (last() in REGEX_AFTER or prev_word() in REGEX_KEYWORDS):
            j = _regex_end(src, i)
            line.append(src[i:j])
            i = j
        elif c == "\n":
            text = "".join(line).strip()
            if text:
                out.append(text)
            line = []
            i += 1
        elif c in " \t\r":
            j = i
            while j < n and src[j] in " \t\r":
                j += 1
            before, after = last(), src[j:j + 1]
            # A space survives only between two word characters, or where two signs would fuse (a - -b).
            words = before and after and not (before in PUNCT or after in PUNCT)
            if words or before + after in ("++", "--", "+-", "-+"):
                line.append(" ")
            i = j
        elif c.isalpha() or c in "_$":
            j = i
            while j < n and (src[j].isalnum() or src[j] in "_$"):
                j += 1
            line.append(_local(src[i:j], last(), src[j:].lstrip()[:1], names))
            i = j
        else:
            line.append(c)
            i += 1
    text = "".join(line).strip()
    if text:
        out.append(text)
    # A line break after ; { or , never ends a statement (no semicolon insertion there), so those go too.
    return re.sub(r"(?<=[;{,])\n", "", "\n".join(out)) + "\n"


def minify_css(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r"\s+", " ", src)
    src = re.sub(r" ?([{};,>]) ?", r"\1", src)
    src = re.sub(r"([:(]) ", r"\1", src)  # "a: b" and "( x" lose the space; selectors have none there
    src = re.sub(r" \)", ")", src)
    src = src.replace(";}", "}")
    return src.strip() + "\n"


BUILDERS = {"banner.js": minify_js, "banner.css": minify_css}


def build() -> dict[Path, str]:
    return {OUT / name: fn((SRC / name).read_text(encoding="utf-8"))
            for name, fn in BUILDERS.items()}


def main(argv: list[str]) -> int:
    built = build()
    if "--check" in argv:
        stale = [p for p, text in built.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run python scripts/build_banner.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in built.items():
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(text.encode())} B")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
