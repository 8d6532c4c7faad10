"""Synthetic web-analytics events as the site's tracker streams them (see shared spec formats.md).

`events(EventsSpec(...))` yields `(partition_key, data)` in emit order: `data` is one JSON event
and the partition key its `ip_address`:

    {"event": "page view", "ip_address": "...", "unix_timestamp": "1714564800",
     "url": "https://www.example.com/products/...", "user_agent": "Mozilla/5.0 ...",
     "utc_timestamp": "2024-05-01T12:00:00.1234567Z"}

`unix_timestamp` is the whole seconds of `utc_timestamp` (7 fractional digits, 100 ns ticks).
About 4 % of events come from a second producer that adds `"page_type"` and, for signed-in
visitors, `"email"` (at example.com/.org/.net), after the standard keys.

Visitors are the browser viewers of the CloudFront standard-log generator (same seed: same
Zipf-weighted IPv4/IPv6 addresses and real browser user agents, not URL-encoded here), so a
few addresses (carrier NATs, offices) send a large part of the events and unique visitors are
far fewer than events. Events: mostly "page view" of the same storefront's pages (skewed: home,
top products), then "search", "add to cart", "checkout", "sign up".

Arrivals and delivery are the real-time log producer's (assets/cloudfront/realtime_sample.py):
`rate` events per second on average with bursts, `anomaly_minute` at ~5x the normal rate,
`late_share` emitted 6 s - 5 min late, `duplicate_share` emitted twice with identical bytes.
Streams (memory does not grow with `seconds * rate`); deterministic for a spec.
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from itertools import accumulate
from urllib.parse import quote_plus, unquote

from assets.cloudfront.realtime_sample import arrivals_per_second, check_stream_spec, deliver, start_units
from assets.cloudfront.sample import BROWSER, SEARCHES, SITES, _pools, _table

EVENT_NAMES = ("page view", "add to cart", "checkout", "search", "sign up")
KEYS = ("event", "ip_address", "unix_timestamp", "url", "user_agent", "utc_timestamp")
OPTIONAL_KEYS = ("page_type", "email")
EVENT_WEIGHTS = {"page view": 82, "search": 8, "add to cart": 6, "checkout": 2.5, "sign up": 1.5}
SECOND_PRODUCER_SHARE = 0.04  # events that carry page_type (and email when signed in)
SIGNED_IN_SHARE = 0.35  # of visitors
ANOMALY_FACTOR = 5.0
TICKS = 10_000_000  # utc_timestamp resolution: 100 ns


@dataclass(frozen=True)
class EventsSpec:
    start: datetime  # tz-aware
    seconds: int = 300
    rate: int = 100  # events per second on average (outside the anomaly)
    seed: int = 7
    duplicate_share: float = 0.0  # share of events emitted twice (identical bytes)
    late_share: float = 0.0  # share of events emitted 6 s .. 5 min late, i.e. after later ones
    anomaly_minute: int | None = None  # that minute (offset from start) has ~5x the normal rate


def page_type(path: str) -> str:
    if path in ("/", "/index.html"):
        return "home"
    for prefix, kind in (("/products/", "product"), ("/blog/", "article"), ("/search", "search"), ("/cart", "cart"),
                         ("/checkout", "checkout"), ("/account", "account")):
        if path.startswith(prefix):
            return kind
    return "content"


@lru_cache(maxsize=4)
def _site(seed: int) -> tuple:
    """Visitors (ip JSON, user-agent JSON, email JSON or None), their cumulative weights, and
    per event name a table of (url JSON, page_type JSON) skewed like the CloudFront pages."""
    pools = _pools(seed)
    rng = random.Random(f"web-analytics-site:{seed}")
    site = f"https://{SITES[0]}"
    first = ("alex", "sam", "maria", "li", "noah", "emma", "omar", "yuki", "lena", "raj", "chloe", "mateo")
    last = ("smith", "garcia", "chen", "muller", "rossi", "kim", "novak", "silva", "brown", "ito")
    visitors, weights, previous = [], [], 0.0
    for viewer, cum in zip(pools.viewers, pools.cum_weights):
        ip, once, _, kind = viewer[:4]
        if kind == BROWSER:
            email = None
            if rng.random() < SIGNED_IN_SHARE:
                domain = rng.choice(("example.com", "example.org", "example.net"))
                email = json.dumps(f"{rng.choice(first)}.{rng.choice(last)}{rng.randrange(100)}@{domain}")
            visitors.append((ip, json.dumps(unquote(once)), email))
            weights.append(cum - previous)
        previous = cum

    def entry(path: str, query: str = "") -> tuple[str, str]:
        return json.dumps(f"{site}{path}{'?' + query if query else ''}"), json.dumps(page_type(path))

    pages, products = [], []
    for method, stem_status, query_rtype, _, rest, *_ in pools.profiles[BROWSER]:
        stem, status = stem_status.split("\t")
        query = query_rtype.split("\t")[0]
        if method == "GET" and status == "200" and rest.split("\t")[1] == "text/html" and stem != "/search":
            pages.append(entry(stem, query if query != "-" else ""))
            if stem.startswith("/products/"):
                products.append(entry(stem))
    searches = [entry("/search", f"q={quote_plus(term)}") for term in SEARCHES]
    tables = {
        "page view": pages,
        "search": searches * 3 + [entry("/search", "q=lamp&page=2")],
        "add to cart": products,
        "checkout": [entry("/checkout")] * 6 + [entry("/checkout/payment")] * 3 + [entry("/checkout/confirmation")] * 2,
        "sign up": [entry("/account/signup")] * 4 + [entry("/account/signup", "source=checkout")],
    }
    names = _table(EVENT_WEIGHTS, 1000)
    return visitors, list(accumulate(weights)), [(json.dumps(name), tables[name]) for name in names]


def _batches(spec: EventsSpec, counts: list[int], rng: random.Random) -> Iterator[list[tuple[int, str, bytes]]]:
    visitors, cum, names = _site(spec.seed)
    last, vtotal, nlen = len(visitors) - 1, cum[-1], len(names)
    rand = rng.random
    base = start_units(spec.start, TICKS)
    stamps: dict[int, str] = {}
    for s, n in enumerate(counts):
        origin = base + s * TICKS
        batch = []
        append = batch.append
        stamps.clear()
        for _ in range(n):
            ip, ua, email = visitors[bisect(cum, rand() * vtotal, 0, last)]
            name, urls = names[int(rand() * nlen)]
            url, kind = urls[int(rand() * len(urls))]
            offset = int(rand() * TICKS)
            sec, frac = divmod(origin + offset, TICKS)
            stamp = stamps.get(sec)
            if stamp is None:
                stamp = stamps[sec] = f"{datetime.fromtimestamp(sec, timezone.utc):%Y-%m-%dT%H:%M:%S}"
            extra = ""
            if rand() < SECOND_PRODUCER_SHARE:
                extra = f', "page_type": {kind}, "email": {email}' if email else f', "page_type": {kind}'
            append((s * TICKS + offset, ip,
                    f'{{"event": {name}, "ip_address": "{ip}", "unix_timestamp": "{sec}", "url": {url}, '
                    f'"user_agent": {ua}, "utc_timestamp": "{stamp}.{frac:07d}Z"{extra}}}'.encode()))
        yield batch


def events(spec: EventsSpec) -> Iterator[tuple[str, bytes]]:
    """(partition key = ip_address, JSON bytes) in emit order; streams."""
    check_stream_spec(spec.start, spec.seconds, spec.rate, spec.duplicate_share, spec.late_share)
    boost = None
    if spec.anomaly_minute is not None:
        if not 0 <= spec.anomaly_minute * 60 < spec.seconds:
            raise ValueError(f"anomaly_minute {spec.anomaly_minute} is outside the {spec.seconds} s window")
        first = spec.anomaly_minute * 60
        boost = {s: ANOMALY_FACTOR for s in range(first, min(first + 60, spec.seconds))}
    counts = arrivals_per_second(random.Random(f"events-arrivals:{spec.seed}"), spec.start, spec.seconds, spec.rate,
                                 boost)
    content = random.Random(f"events-content:{spec.seed}")
    delivery = random.Random(f"events-delivery:{spec.seed}")
    yield from deliver(_batches(spec, counts, content), TICKS, delivery,
                       late_share=spec.late_share, duplicate_share=spec.duplicate_share)
