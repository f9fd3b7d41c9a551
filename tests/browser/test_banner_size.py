"""The served banner is what its source builds to, and a first visit stays within the 6 KB budget.

No browser here: these read files and run the size benchmark (the real app, in a subprocess).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_served_banner_is_built_from_its_source() -> None:
    build = load("scripts/build_banner.py")
    for path, text in build.build().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: python scripts/build_banner.py"


def test_first_layer_within_budget_in_every_language() -> None:
    # A subprocess: the benchmark runs its own event loop, which Playwright's sync API may be holding here.
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "banner_size.py")], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")})
    assert run.returncode == 0, run.stdout + run.stderr
    for lang in ("ru", "kk", "en"):
        assert f"first layer, {lang}:" in run.stdout


@pytest.mark.parametrize(("source", "expected"), [
    ('var a = "x // y"; // comment\nvar b = /\\/\\*[/]/g;', 'var a="x // y";var b=/\\/\\*[/]/g;\n'),
    ("return a - -b\n", "return a- -b\n"),
    ("if (x) { y }\nz()", "if(x){y}\nz()\n"),
    ("var root = {lang: lang}; x.root = root;", "var <root>={lang:<lang>};x.root=<root>;\n"),
])
def test_minifier_keeps_literals_and_meaning(source: str, expected: str) -> None:
    build = load("scripts/build_banner.py")
    js = build.minify_js(source)
    names = build._short_names(source)
    assert js == expected.replace("<root>", names["root"]).replace("<lang>", names["lang"])


def test_minifier_refuses_a_shorthand_key_it_would_rename() -> None:
    build = load("scripts/build_banner.py")
    with pytest.raises(ValueError, match="shorthand"):
        build.minify_js("var o = {root};")
