"""User-agent classification: real strings from the wild, table-driven."""

from __future__ import annotations

import pytest

from gateway import useragent
from gateway.useragent import Agent, classify

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)

BROWSERS = [
    (CHROME_WINDOWS, "desktop", "Chrome", "Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36 Edg/120.0.2210.91", "desktop", "Edge", "Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "YaBrowser/24.1.0.0 Safari/537.36", "desktop", "Yandex Browser", "Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36 OPR/106.0.0.0", "desktop", "Opera", "Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
     "desktop", "Firefox", "Windows"),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "desktop", "Firefox", "Linux"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
     "Safari/605.1.15", "desktop", "Safari", "macOS"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", "desktop", "Chrome", "ChromeOS"),
    ("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko", "desktop", "Other", "Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Mobile/15E148 Safari/604.1", "mobile", "Safari", "iOS"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/120.0 Mobile/15E148 Safari/604.1", "mobile", "Chrome", "iOS"),
    ("Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Mobile Safari/537.36", "mobile", "Chrome", "Android"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 "
     "Chrome/115.0.0.0 Mobile Safari/537.36", "mobile", "Samsung Internet", "Android"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "YaBrowser/24.1.0.0 Mobile Safari/537.36", "mobile", "Yandex Browser", "Android"),
    ("Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0", "mobile", "Firefox", "Android"),
    # Tablets: iPad, and Android without the "Mobile" token.
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
     "Mobile/15E148 Safari/604.1", "tablet", "Safari", "iOS"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", "tablet", "Chrome", "Android"),
    ("Mozilla/5.0 (Android 14; Tablet; rv:120.0) Gecko/120.0 Firefox/120.0", "tablet", "Firefox", "Android"),
]


@pytest.mark.parametrize(("ua", "device", "browser", "os"), BROWSERS)
def test_browsers(ua: str, device: str, browser: str, os: str) -> None:
    assert classify(ua) == Agent(device=device, browser=browser, os=os, is_bot=False)


BOTS = {
    "empty": "",
    "blank": "   ",
    "curl": "curl/8.4.0",
    "wget": "Wget/1.21.4",
    "python-requests": "python-requests/2.31.0",
    "python-httpx": "python-httpx/0.27.0",
    "python-urllib": "Python-urllib/3.11",
    "aiohttp": "Python/3.11 aiohttp/3.9.1",
    "go": "Go-http-client/1.1",
    "okhttp": "okhttp/4.9.2",
    "java": "Java/17.0.2",
    "libwww-perl": "libwww-perl/6.67",
    "headless-chrome": HEADLESS_CHROME,
    "phantomjs": "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 "
                 "Safari/538.1",
    "playwright": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
                  "Safari/537.36 Playwright/1.45",
    "puppeteer": "Mozilla/5.0 (X11; Linux x86_64) Puppeteer AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot-smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
                            "+http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "yandexbot": "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "facebookexternalhit": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "linkedinbot": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "twitterbot": "Twitterbot/1.0",
    "applebot": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Version/13.1.1 Safari/605.1.15 (Applebot/0.1)",
    "duckduckbot": "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "baiduspider": "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "ahrefsbot": "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "semrushbot": "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "mail.ru": "Mozilla/5.0 (compatible; Linux x86_64; Mail.RU_Bot/2.0; +https://help.mail.ru/webmaster/robots)",
    "petalbot": "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
                "(compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "gptbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "unknown-compatible-bot": "Mozilla/5.0 (compatible; ExampleBot/1.0)",
}


@pytest.mark.parametrize("ua", BOTS.values(), ids=BOTS.keys())
def test_bots(ua: str) -> None:
    agent = classify(ua)
    assert agent.is_bot
    assert agent.device == "bot"


def test_phone_brand_containing_bot_is_not_a_bot() -> None:
    # CUBOT is an Android phone maker; a naive "bot" substring test would drop its users from the rates.
    ua = ("Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Mobile Safari/537.36")
    assert classify(ua) == Agent(device="mobile", browser="Chrome", os="Android", is_bot=False)


def test_unknown_agent_is_other_not_bot() -> None:
    assert classify("SomeKioskApp 1.0") == Agent(device="other", browser="Other", os="Other", is_bot=False)


def test_repeated_agent_is_served_from_cache() -> None:
    before = useragent.cache_info().hits  # type: ignore[attr-defined]
    first = classify(CHROME_WINDOWS + " cachetest")
    second = classify(CHROME_WINDOWS + " cachetest")
    assert first is second
    assert useragent.cache_info().hits == before + 1  # type: ignore[attr-defined]


def test_native_resolver_is_in_use() -> None:
    # The pure-Python fallback would be ~40x slower per new user-agent; fail loudly if the accelerator is gone.
    from ua_parser import BestAvailableResolver

    assert f"{BestAvailableResolver.__module__}.{BestAvailableResolver.__qualname__}" == "ua_parser.regex.Resolver"


def test_overlong_agent_is_truncated_before_parsing() -> None:
    assert classify(CHROME_WINDOWS + "x" * 10_000) == classify(CHROME_WINDOWS + "x" * 5_000)
