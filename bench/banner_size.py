"""Gzip size of what a visitor downloads for the banner, against our budget and two well-known banners.

    python bench/banner_size.py

Prints banner.js + banner.css (gzip -9, as served) against the 8 KB budget, as ratios to
vanilla-cookieconsent 3.1 (15.5 KB) and Klaro 0.7 (69 KB), and config.json for each language as the real
app serves it, against its 3 KB budget. Also prints vendors.json per language (fetched only when the
visitor opens the settings; no budget). Exits 1 when a budget is exceeded.
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
ASSET_BUDGET = 8 * KB
CONFIG_BUDGET = 3 * KB
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
    ok = True
    sizes = asset_sizes()
    total = sum(sizes.values())
    for name, size in sizes.items():
        print(f"{name:<12} {size:>6} B gzip")
    print(f"{'total':<12} {total:>6} B gzip  ({total / KB:.2f} KB, budget {ASSET_BUDGET / KB:.0f} KB: "
          f"{total / ASSET_BUDGET:.0%} used)")
    for label, size in BASELINES.items():
        print(f"  vs {label:<26} {size / KB:>5.1f} KB  -> ours is {total / size:.2f}x its size "
              f"({size / total:.1f}x smaller)")
    ok &= total <= ASSET_BUDGET
    try:
        configs = asyncio.run(config_sizes())
    except ImportError as exc:
        print(f"config.json, vendors.json: skipped, the app is not importable ({exc})")
    else:
        for lang, size in configs["config.json"].items():
            print(f"config.json?lang={lang}   {size:>6} B gzip  (budget {CONFIG_BUDGET / KB:.0f} KB: "
                  f"{size / CONFIG_BUDGET:.0%} used)")
            ok &= size <= CONFIG_BUDGET
        for lang, size in configs["vendors.json"].items():
            print(f"vendors.json?lang={lang}  {size:>6} B gzip  (on opening the settings; no budget)")
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
