"""Classify a user agent once: bot or not, bot name, browser, OS, device class.

Crawlers are recognised by the crawler-user-agents pattern list (and ua-parser's "Spider"
device); everything else by ua-parser's browser/OS/device rules.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import version

import crawleruseragents
from ua_parser import parse

CLASSIFIER_VERSION = f"crawler-user-agents {version('crawler-user-agents')}, ua-parser {version('ua-parser')}"

COLUMNS = (
    ("user_agent", "VARCHAR", "The decoded user agent."),
    ("is_bot", "BOOLEAN", "True for crawlers, spiders and other automated agents."),
    ("bot_name", "VARCHAR", "Name of the bot (e.g. Googlebot); empty for people."),
    ("browser", "VARCHAR", "Browser or client family (ua-parser)."),
    ("browser_version", "VARCHAR", "Major version of the browser."),
    ("os", "VARCHAR", "Operating-system family (ua-parser)."),
    ("device_class", "VARCHAR", "bot, mobile, tablet, desktop or other."),
    ("classified_with", "VARCHAR", "Library versions used for the classification."),
)

_TABLET = re.compile(r"iPad|Tablet|Nexus (7|9|10)|SM-T\d|Kindle|Silk", re.IGNORECASE)
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS"}
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD"}


@cache
def _crawler_patterns() -> list[tuple[re.Pattern, str]]:
    return [(re.compile(entry["pattern"]), entry["pattern"]) for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]


def _bot_name_from_pattern(pattern: str) -> str:
    """`Googlebot\\/` -> `Googlebot`, `[wW]get` -> `wget`: readable enough for a report."""
    name = re.sub(r"\[(\w)\w*\]", r"\1", pattern)
    name = re.sub(r"\\.|[\^$()\[\]?*+|{}]", "", name)
    return name.strip(" /.-_")


def _matching_crawler(user_agent: str) -> str | None:
    if not crawleruseragents.is_crawler(user_agent):
        return None
    for compiled, pattern in _crawler_patterns():
        if compiled.search(user_agent):
            return _bot_name_from_pattern(pattern)
    return None


def classify(user_agent: str) -> dict:
    parsed = parse(user_agent)
    agent, os_, device = parsed.user_agent, parsed.os, parsed.device
    crawler = _matching_crawler(user_agent)
    spider = device is not None and device.family == "Spider"
    is_bot = crawler is not None or spider
    browser = agent.family if agent else "Other"
    os_family = os_.family if os_ else "Other"
    if is_bot:
        bot_name = browser if spider and browser != "Other" else crawler
        device_class = "bot"
    else:
        bot_name = None
        if _TABLET.search(user_agent):
            device_class = "tablet"
        elif os_family in _MOBILE_OS:
            device_class = "mobile"
        elif os_family in _DESKTOP_OS:
            device_class = "desktop"
        else:
            device_class = "other"
    return {
        "user_agent": user_agent,
        "is_bot": is_bot,
        "bot_name": bot_name,
        "browser": browser,
        "browser_version": agent.major if agent else None,
        "os": os_family,
        "device_class": device_class,
        "classified_with": CLASSIFIER_VERSION,
    }
