"""Gzip size of what a first visit downloads for the banner, per language, against the 6 KB budget.

    python bench/banner_size.py

The first layer needs banner.js + banner.css (gzip -9, as served) and config.json in the visitor's language
(as the real app serves it); their sum per language must stay within FIRST_LAYER_BUDGET. The JS + CSS are
also shown as ratios to vanilla-cookieconsent 3.1 (15.5 KB) and Klaro 0.7 (69 KB). vendors.json (the second
layer's long texts and vendor lists, fetched only when the visitor opens the settings) is printed, with no
budget. Exits 1 above the budget. The served banner.js/css are built from static/banner/src/ by
scripts/build_banner.py.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANNER = ROOT / "static" / "banner"
KB = 1024
FIRST_LAYER_BUDGET = 6 * KB  # banner.js + banner.css + config.json, gzip, per language
# Published gzip sizes of the JS + CSS each library needs for a comparable banner.
BASELINES = {"vanilla-cookieconsent 3.1": 15.5 * KB, "Klaro 0.7": 69 * KB}
LANGUAGES = ("ru", "kk", "en")


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9, mtime=0))


def asset_sizes() -> dict[str, int]:
    return {name: gz((BANNER / name).read_bytes()) for name in ("banner.js", "banner.css")}


async def config_sizes() -> dict[str, dict[str, int]]:
    """config.json and vendors.json per language, fetched from the real app through httpx's ASGI transport."""
    import httpx

    sys.path.insert(0, str(ROOT))
    from gateway.app import create_app
    from gateway.settings import load_settings

    with tempfile.TemporaryDirectory() as data_dir:
        # A throwaway key: nothing is signed here, but the app refuses to start without one.
        settings = load_settings(env={"GATEWAY_SECRET_KEYS": "bench-only-key-not-secret-0123456789"},
                                 flags={"data_dir": data_dir})
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            out: dict[str, dict[str, int]] = {"config.json": {}, "vendors.json": {}}
            for doc, sizes in out.items():
                for lang in LANGUAGES:
                    resp = await client.get(f"{settings.prefix}/{doc}", params={"lang": lang},
                                            headers={"Accept-Encoding": "identity"})
                    resp.raise_for_status()
                    sizes[lang] = gz(resp.content)
            return out


def main() -> int:
    sizes = asset_sizes()
    assets = sum(sizes.values())
    for name, size in sizes.items():
        print(f"{name:<22} {size:>6} B gzip")
    print(f"{'banner.js + banner.css':<22} {assets:>6} B gzip  ({assets / KB:.2f} KB)")
    for label, size in BASELINES.items():
        print(f"  vs {label:<26} {size / KB:>5.1f} KB  -> ours is {assets / size:.2f}x its size "
              f"({size / assets:.1f}x smaller)")
    try:
        configs = asyncio.run(config_sizes())
    except ImportError as exc:
        print(f"config.json, vendors.json: the app is not importable ({exc})")
        return 1
    ok = True
    for lang, size in configs["config.json"].items():
        total = assets + size
        ok &= total <= FIRST_LAYER_BUDGET
        print(f"first layer, {lang}: {sizes['banner.js']} + {sizes['banner.css']} + config.json {size} "
              f"= {total:>5} B gzip  ({total / KB:.2f} KB, budget {FIRST_LAYER_BUDGET / KB:.0f} KB: "
              f"{total / FIRST_LAYER_BUDGET:.0%} used)")
    for lang, size in configs["vendors.json"].items():
        print(f"vendors.json?lang={lang}  {size:>6} B gzip  (on opening the settings; no budget)")
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
