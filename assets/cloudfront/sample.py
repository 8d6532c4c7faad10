"""Synthetic CloudFront standard access-log deliveries, for tests, demos and benchmarks.

`generate(store, SampleSpec(...))` writes gzip files named like real deliveries
(`<prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz`) into the landing bucket. The traffic
is shaped like a real storefront: Zipf-weighted viewers (IPv4 and IPv6, a few heavy ones),
~17 % real crawler user agents (plus HTTP-library apps that crawler lists also flag),
mostly cache hits, heavy-tailed sizes, 30+ weighted edge locations, shuffled times, legacy
26-field files, lines with fewer trailing fields, double-encoded user agents and late files.

Files per hour: every distribution-hour gets `files_per_hour` files give or take one (at
least one), so an hour has about `files_per_hour * distributions` files. Lines are split
over files by a diurnal curve, a per-distribution share and per-file jitter, so the total
is exactly `spec.lines` (every file gets at least one line when there are enough lines;
files that would be empty are not written).

Speed: lines are assembled from precomputed pools (viewers, request/response shapes, timings)
with one f-string each, ~200k lines/s before compression; gzip level 6 costs more than that,
so a worker thread compresses one file while the next is rendered.

Determinism: everything comes from `random.Random` instances seeded from `spec.seed` and
gzip is written with mtime=0, so one spec gives byte-identical keys and files (for a given
Python version: `random` and libm may differ across versions and platforms).
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import random
from bisect import bisect
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate
from math import log
from typing import TYPE_CHECKING

import crawleruseragents

from dataplatform.sampling import DIURNAL, ISP_V4, ISP_V6, split_exactly
from assets.cloudfront.format import FIELDS, LEGACY_FIELDS, object_name

if TYPE_CHECKING:  # only for annotations: keeps `assets` importable without the platform package
    from dataplatform.resources.lake import ObjectInfo, ObjectStore


@dataclass(frozen=True)
class SampleSpec:
    start: datetime  # first UTC hour (tz-aware, truncated to the hour by the caller)
    hours: int = 24
    lines: int = 20_000  # data lines across all files, exactly
    files_per_hour: int = 3  # per distribution-hour, give or take one
    distributions: int = 3
    seed: int = 7
    legacy_share: float = 0.2  # share of files in the legacy 26-field layout
    late_files: int = 0  # extra files for earlier hours of the window, written last
    prefix: str = "cloudfront/"


# x-edge-location codes with relative traffic weights (North America and Europe dominate).
EDGES = {
    "IAD89-C1": 30, "IAD55-P3": 18, "IAD12": 8, "JFK50-P4": 16, "EWR53-C3": 10, "BOS50-C1": 6,
    "ATL56-C2": 10, "MIA3-C1": 7, "ORD52-C1": 12, "DFW3": 12, "DFW56-P1": 8, "DEN52-C1": 5,
    "LAX1": 10, "LAX50-C1": 8, "SFO5-P2": 10, "SEA19-C2": 7, "YUL62-C1": 3, "YVR52-P1": 3,
    "GRU1": 5, "FRA56-P1": 14, "FRA60-P4": 8, "LHR61-P5": 14, "LHR3": 6, "AMS1": 8, "AMS54-C1": 5,
    "CDG52-P2": 8, "MAD53-C1": 4, "MXP64-P1": 4, "ARN54-C1": 3, "WAW51-P2": 3, "DUB56-P1": 4,
    "NRT57-P2": 8, "NRT12": 4, "HND50-C2": 3, "ICN54-C2": 4, "SIN2": 5, "SIN52-C2": 3,
    "HKG62-C1": 3, "BOM78-P4": 4, "SYD62-P2": 4, "MEL50-C2": 2, "JNB50-C1": 1, "TLV50-C1": 1,
}
BROWSERS = {  # real user agents of current browsers
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36": 26,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36": 6,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0": 8,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0": 5,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36": 8,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15": 7,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0": 2,
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36": 2,
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0": 1,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1": 16,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1": 3,
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1": 2,
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36": 14,
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36": 3,
    # In-app browsers: brackets and semicolons exercise the URL encoding.
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.33.118;]": 2,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 312.0.0.32.112 (iPhone14,5; iOS 17_2_1; en_US; en; scale=3.00; 1170x2532; 548339486)": 1,
}
APPS = {  # native apps and HTTP libraries (crawler lists flag okhttp, curl, requests, Go)
    "MyApp/3.2 CFNetwork/1410.0.3 Darwin/22.6.0": 20,
    "okhttp/4.12.0": 18,
    "Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)": 10,
    "CaféBar/5.1.2 CFNetwork/1490.0.4 Darwin/23.2.0": 4,  # non-ASCII: encoded as UTF-8 bytes
    "curl/8.4.0": 6,
    "python-requests/2.31.0": 6,
    "Go-http-client/2.0": 4,
    "aws-sdk-java/2.21.0 Linux/5.10.199 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc.": 3,
}
# Crawlers: a substring of a real instance in crawler-user-agents, weight, source networks.
BOTS = (
    ("compatible; Googlebot/2.1", 30, ("66.249.64.0/20", "2001:4860:4801::/48")),
    ("bingbot/2.0", 14, ("157.55.39.0/24", "40.77.167.0/24", "207.46.13.0/24")),
    ("AhrefsBot/", 10, ("54.36.148.0/23",)),
    ("SemrushBot", 8, ("185.191.171.0/24",)),
    ("YandexBot/3.0", 6, ("5.255.253.0/24", "213.180.203.0/24")),
    ("facebookexternalhit/1.1", 5, ("2a03:2880:f800::/48", "173.252.107.0/24")),
    ("GPTBot/", 5, ("20.171.206.0/24",)),
    ("Baiduspider/2.0", 4, ("220.181.108.0/24",)),
    ("Bytespider", 4, ("110.249.201.0/24",)),
    ("Applebot/", 3, ("17.241.208.0/20",)),
    ("ClaudeBot", 3, ()),
    ("Googlebot-Image", 3, ("66.249.64.0/20",)),
    ("DuckDuckBot", 2, ("20.191.45.0/24",)),
    ("PetalBot", 2, ("114.119.128.0/19",)),
    ("Amazonbot", 2, ("52.70.240.0/24",)),
    ("MJ12bot", 2, ()),
    ("DotBot", 1, ()),
    ("Twitterbot", 1, ("199.16.157.0/24",)),
    ("CCBot", 1, ()),
)
BROWSER, BOT, APP = 0, 1, 2
PROFILES = 4096  # request/response shapes per viewer kind
# (share of requests, viewers, Zipf exponent, IPv6 share, HTTP->HTTPS redirect share, HEAD share)
KINDS = {BROWSER: (0.70, 12_000, 1.05, 0.12, 0.03, 0.005), BOT: (0.17, 300, 1.0, 0.08, 0.06, 0.05),
         APP: (0.13, 1_500, 1.1, 0.10, 0.015, 0.03)}
TLS = {  # (ssl-protocol<TAB>ssl-cipher, cs-protocol-version): weight, per kind
    BROWSER: {("TLSv1.3\tTLS_AES_128_GCM_SHA256", "HTTP/2.0"): 55, ("TLSv1.3\tTLS_AES_128_GCM_SHA256", "HTTP/3.0"): 20,
              ("TLSv1.3\tTLS_AES_256_GCM_SHA384", "HTTP/2.0"): 10,
              ("TLSv1.3\tTLS_CHACHA20_POLY1305_SHA256", "HTTP/2.0"): 5,
              ("TLSv1.2\tECDHE-RSA-AES128-GCM-SHA256", "HTTP/2.0"): 5,
              ("TLSv1.2\tECDHE-RSA-AES128-GCM-SHA256", "HTTP/1.1"): 5},
    BOT: {("TLSv1.3\tTLS_AES_128_GCM_SHA256", "HTTP/1.1"): 40, ("TLSv1.2\tECDHE-RSA-AES128-GCM-SHA256", "HTTP/1.1"): 30,
          ("TLSv1.3\tTLS_AES_256_GCM_SHA384", "HTTP/2.0"): 30},
    APP: {("TLSv1.3\tTLS_AES_128_GCM_SHA256", "HTTP/2.0"): 50, ("TLSv1.3\tTLS_AES_128_GCM_SHA256", "HTTP/1.1"): 30,
          ("TLSv1.2\tECDHE-RSA-AES128-GCM-SHA256", "HTTP/1.1"): 20},
}
SITES = ("www.example.com", "shop.example.org", "www.example.net", "store.example.co.uk", "www.example.de")
SEARCHES = ("wireless headphones", '"red lamp"', "café mug", "size 10 [kids]", "backpack", "sale")
_ENCODE = frozenset(b'<>"#%{}|\\^~[]`\'')
# Byte -> text, applied to the UTF-8 bytes seen as latin-1 characters (one character per byte).
_ESCAPES = {b: f"%{b:02X}" for b in range(256) if not 32 < b < 127 or b in _ENCODE}


@lru_cache(maxsize=4096)
def encode_value(value: str) -> str:
    """CloudFront's log encoding: bytes 0-32, >=127 and <>"#%{}|\\^~[]`' become %XX."""
    return value.encode("utf-8").decode("latin-1").translate(_ESCAPES)


def render_file(records: list[dict[str, str]], fields: Sequence[str]) -> bytes:
    """Uncompressed file text; values are taken as already encoded, missing or empty ones are '-'."""
    lines = [_header(fields)]
    lines += ["\t".join(record.get(field) or "-" for field in fields) + "\n" for record in records]
    return "".join(lines).encode("utf-8")


def distribution_ids(n: int, seed: int) -> list[str]:
    """Distinct ids like E2QWRUHAPOMQZL: 'E' and 13 uppercase letters or digits."""
    rng, ids = random.Random(f"distributions:{seed}"), []
    while len(ids) < n:
        candidate = "E" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=13))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _header(fields: Sequence[str]) -> str:
    return f"#Version: 1.0\n#Fields: {' '.join(fields)}\n"


def _table(weights: dict, size: int = 1000) -> list:
    """Weighted choices as a flat list, so a pick is one index: `table[int(random() * len)]`."""
    total = sum(weights.values())
    return [item for item, weight in weights.items() for _ in range(max(1, round(size * weight / total)))]


def _zipf(n: int, s: float) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


@lru_cache(maxsize=64)
def _zipf_cum(n: int) -> list[float]:
    """Cumulative Zipf weights for `random.choices(cum_weights=...)`: popular paths, popular classes."""
    return list(accumulate(_zipf(n, 1.0)))


def _lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, int(rng.lognormvariate(log(median), sigma)))


def _address(rng: random.Random, networks: Sequence[str], v6_share: float) -> str:
    if networks:
        net = ipaddress.ip_network(rng.choice(networks))
        return str(net[rng.randrange(1, net.num_addresses - 1)])
    if rng.random() < v6_share:
        net = ipaddress.ip_network(rng.choice(ISP_V6))
        return str(net[rng.randrange(net.num_addresses)])
    # Consumer and hosting /8s without special-purpose ranges inside, so no per-address checks.
    return f"{rng.choice(ISP_V4)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _bot_agents() -> list[tuple[str, int, tuple[str, ...]]]:
    """The first real instance containing each needle; crawlers missing from the data are skipped."""
    instances = [ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", ())]
    found = []
    for needle, weight, networks in BOTS:
        ua = next((ua for ua in instances if needle in ua), None)
        if ua is not None:
            found.append((ua, weight, networks))
    return found


def _site(rng: random.Random) -> dict:
    """Path classes of a storefront: (stems with content type, median body, sigma, statuses, weights per kind)."""
    adjectives = ("red", "classic", "organic", "wireless", "vintage", "smart")
    nouns = ("sneakers", "lamp", "backpack", "kettle", "headphones", "mug")
    products = [f"{rng.choice(adjectives)}-{rng.choice(nouns)}-{1000 + i}" for i in range(300)]

    def h() -> str:  # content hash in bundle names
        return f"{rng.getrandbits(32):08x}"

    html = ["/", "/index.html", "/about", "/cart", "/search", *(f"/products/{p}" for p in products)]
    html = [(stem, "text/html") for stem in html + [f"/blog/2024/post-{i}" for i in range(60)]]
    images = [(f"/images/products/{p.rsplit('-', 1)[1]}-{w}.{ext}", f"image/{ct}") for p in products
              for w, ext, ct in ((640, "jpg", "jpeg"), (1280, "webp", "webp"))]
    images += [("/images/logo.svg", "image/svg+xml")] + [(f"/images/hero-{i}.webp", "image/webp") for i in range(8)]
    api = ["/api/v1/products", "/api/v1/search", "/api/v1/cart", "/api/v1/events", "/api/v2/recommendations"]
    api = [(stem, "application/json") for stem in api + [f"/api/v1/products/{1000 + i}" for i in range(300)]]
    bundles = ("app", "vendor", *(f"chunk-{i}" for i in range(12)))
    scripts = [(f"/static/js/{name}.{h()}.js", "application/javascript") for name in bundles]
    sitemaps = [(stem, "application/xml") for stem in ("/sitemap.xml", "/sitemap-products.xml", "/feed.xml")]
    probes = ("/wp-login.php", "/.env", "/xmlrpc.php", "/.git/config", "/phpmyadmin/index.php")
    probes = [(stem, "text/html") for stem in probes]
    videos = [(f"/media/{i}/intro-{q}.mp4", "video/mp4") for i in range(20) for q in ("1080p", "720p")]
    ok = {200: 94, 304: 2, 404: 3, 500: 0.3, 502: 0.4, 503: 0.3}
    static = {200: 85, 304: 14, 404: 0.5, 502: 0.5}
    return {  # name: (stems, median, sigma, statuses, (browser, bot, app) weights)
        "page": (html, 24_000, 0.6, ok, (22, 50, 2)),
        "script": (scripts, 120_000, 1.0, static, (17, 4, 0)),
        "style": ([(f"/static/css/{n}.{h()}.css", "text/css") for n in ("main", "print")], 35_000, 0.6, static, (7, 2, 0)),
        "image": (images, 45_000, 1.3, {200: 88, 304: 9, 404: 2.5, 403: 0.5}, (30, 9, 20)),
        "font": ([("/fonts/inter-var.woff2", "font/woff2"), ("/fonts/inter-var-italic.woff2", "font/woff2")], 48_000, 0.2,
                 {200: 80, 304: 20}, (5, 0, 0)),
        "api": (api, 1_800, 1.1, {200: 93, 403: 2, 404: 2, 500: 1.5, 502: 1, 503: 0.5}, (12, 1, 65)),
        "video": (videos, 25_000_000, 0.8, {206: 85, 200: 10, 304: 5}, (2, 0, 8)),
        "robots": ([("/robots.txt", "text/plain")], 350, 0.05, {200: 100}, (0.2, 12, 0.5)),
        "sitemap": (sitemaps, 90_000, 0.5, {200: 95, 304: 5}, (0, 10, 0)),
        "favicon": ([("/favicon.ico", "image/x-icon"), ("/apple-touch-icon.png", "image/png")], 15_000, 0.05,
                    {200: 80, 304: 20}, (4, 1, 0)),
        "probe": (probes, 1_200, 0.3, {404: 80, 403: 20}, (0.1, 6, 3)),  # vulnerability scanners
    }


def _query(rng: random.Random, name: str, stem: str) -> str:
    if stem.endswith("/search"):
        return f"q={rng.choice(SEARCHES)}&page={rng.randint(1, 3)}"
    chance, options = {
        "page": (0.12, ("utm_source=google&utm_medium=cpc&utm_campaign=spring_sale",
                        "utm_source=newsletter&utm_medium=email", f"gclid={rng.getrandbits(64):x}", "ref=homepage")),
        "script": (0.04, ("v=3.2.1",)), "style": (0.04, ("v=3.2.1",)),
        "image": (0.15, ("w=640&q=80", "w=1280&format=webp", "width=320")),
        "probe": (0.3, ("action=register", "<script>alert(1)</script>", "id=1' OR '1'='1")),
    }.get(name, (0.0, ()))
    return rng.choice(options) if rng.random() < chance else "-"


def _result(rng: random.Random, status: int, cacheable: bool) -> tuple[str, str]:
    """x-edge-result-type (also used as the response result type) and x-edge-detailed-result-type."""
    if status in (200, 206, 304):
        r = rng.random()  # cacheable: 83 % Hit, 6 % RefreshHit, 11 % Miss; 304s are answered from cache
        if status == 304 or (cacheable and r < 0.89):
            return ("Hit", "Hit") if r < 0.83 else ("RefreshHit", "RefreshHit")
        return ("Miss", "OriginShieldHit") if rng.random() < 0.12 else ("Miss", "Miss")
    if status == 301:
        return "Redirect", "Redirect"
    if status == 403:
        return "Error", rng.choice(("Error", "Error", "Error", "ClientGeoBlocked"))
    if status == 502:
        return "Error", rng.choice(("OriginConnectError", "OriginDnsError", "OriginCommError", "OriginReadError"))
    if status == 503:
        return rng.choice((("CapacityExceeded",) * 2, ("LimitExceeded",) * 2, ("Error", "OriginError")))
    return "Error", "Error"


@lru_cache(maxsize=2)
def _pools(seed: int) -> _Pools:
    return _Pools(seed)  # ~0.3 s to build; read-only afterwards, so repeated runs share it


class _Pools:
    """Everything reusable across files: viewers, request profiles, timings, edges, lookup tables."""

    def __init__(self, seed: int):
        rng = random.Random(f"pools:{seed}")
        self.edges = _table(EDGES)
        self.mmss = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
        self.ports = [str(p) for p in range(1024, 65536)]
        self.id_tails = [base64.urlsafe_b64encode(bytes([b])).decode() for b in range(256)]  # 'xx=='
        # Timings by (hit, miss, error) x (small, medium, large body): (time-taken, time-to-first-byte).
        self.timings = []
        for median, spread in ((3, 0.9), (40, 0.8), (900, 0.8), (80, 1.0), (220, 0.8), (2000, 0.8), *[(15, 1.5)] * 3):
            pairs = []
            for _ in range(1024):
                total = _lognormal(rng, median, spread)
                # Large bodies spend most of their time streaming after the first byte.
                first = int(total * (rng.uniform(0.3, 1.0) if median < 500 else rng.uniform(0.02, 0.3)))
                pairs.append((f"{total // 1000}.{total % 1000:03d}", f"{first // 1000}.{first % 1000:03d}"))
            self.timings.append(pairs)
        site = _site(rng)
        self.profiles = {kind: [self._profile(rng, site, kind) for _ in range(PROFILES)] for kind in KINDS}
        self.viewers, weights = [], []
        agents = {BROWSER: [(ua, w, ()) for ua, w in BROWSERS.items()], APP: [(ua, w, ()) for ua, w in APPS.items()],
                  BOT: _bot_agents()}
        for kind, (share, count, s, v6, _, _) in KINDS.items():
            # Zipf within the kind, scaled to the kind's share of requests.
            zipf = _zipf(count, s)
            scale = share / sum(zipf)
            uas = rng.choices(agents[kind], weights=[a[1] for a in agents[kind]], k=count)
            conns = rng.choices(list(TLS[kind]), weights=list(TLS[kind].values()), k=count)
            for rank, (ua, _, networks), conn in zip(range(count), uas, conns):
                once = encode_value(ua)
                twice = encode_value(once)  # some clients' user agents arrive double-encoded
                xff = _address(rng, (), 0.0) if kind != BOT and rng.random() < 0.04 else "-"
                cs_base = 170 + len(ua) + (rng.randrange(150, 700) if kind == BROWSER else 0)
                ip = _address(rng, networks, v6)
                self.viewers.append((ip, once, twice, kind, self.profiles[kind], ("https", *conn), xff, cs_base))
                weights.append(zipf[rank] * scale)
        order = list(range(len(self.viewers)))
        rng.shuffle(order)  # interleave kinds so heavy bots and heavy humans mix in the ranking
        self.viewers = [self.viewers[i] for i in order]
        self.cum_weights = list(accumulate(weights[i] for i in order))

    def _profile(self, rng: random.Random, site: dict, kind: int) -> tuple:
        """One request/response shape: the fields that only depend on what was asked and answered."""
        _, _, _, _, redirect_share, head_share = KINDS[kind]
        names = list(site)
        name = rng.choices(names, weights=[site[n][4][kind] for n in names])[0]
        stems, median, sigma, statuses, _ = site[name]
        stem, ctype = rng.choices(stems, cum_weights=_zipf_cum(len(stems)))[0]
        query = _query(rng, name, stem)
        method, http = "GET", rng.random() < redirect_share
        if name == "api" and not http:
            method = rng.choices(("GET", "POST", "OPTIONS"), weights=(70, 22, 8))[0]
        elif rng.random() < head_share:
            method = "HEAD"
        if http:
            status = 301
        elif method in ("POST", "OPTIONS"):
            status = 200
        else:
            status = rng.choices(list(statuses), weights=list(statuses.values()))[0]
            status = 200 if method == "HEAD" and status == 206 else status
        # API answers are mostly dynamic; POST and OPTIONS always go to the origin.
        cacheable = method in ("GET", "HEAD") and (name != "api" or rng.random() < 0.3)
        rtype, detailed = _result(rng, status, cacheable)
        body, rstart, rend = _lognormal(rng, median, sigma), "-", "-"
        if status == 206:
            if rng.random() < 0.05:
                start, end = 0, 1  # Safari probes with bytes=0-1
            else:
                start = rng.randrange(0, body, 65536) if rng.random() < 0.8 else 0
                end = min(body - 1, start + _lognormal(rng, 1_500_000, 0.6))
            body, rstart, rend = end - start + 1, str(start), str(end)
        elif status == 301:
            ctype, body = "text/html", 167  # CloudFront's own redirect page
        elif status >= 400:
            if name == "api":
                ctype, body = "application/json", _lognormal(rng, 300, 0.4)
            else:  # CloudFront's own error page for 403/502/503, the origin's for the rest
                ctype, body = "text/html", 919 if status in (403, 502, 503) else _lognormal(rng, 1500, 0.4)
        elif method == "OPTIONS":
            ctype, body = "-", 0
        sent = 0 if status == 304 or method == "HEAD" else body
        clen = "-" if status == 304 else str(body)
        result_group = 0 if rtype in ("Hit", "RefreshHit", "Redirect") else 1 if rtype == "Miss" else 2
        size_group = 0 if sent < 100_000 else 1 if sent < 1_000_000 else 2
        cs_extra = len(stem) + len(query) + (22 if status == 206 else 0)  # 22: a Range header
        cs_extra += _lognormal(rng, 800, 0.8) if method == "POST" else 0
        query = encode_value(query) if query != "-" else "-"
        # Neighbouring fields pre-joined: fewer pieces to assemble per line.
        return (method, f"{encode_value(stem)}\t{status}", f"{query}\t-\t{rtype}", rtype,
                f"{detailed}\t{ctype}\t{clen}\t{rstart}\t{rend}", sent + rng.randrange(280, 620), cs_extra,
                self.timings[3 * result_group + size_group], http)


def _distributions(spec: SampleSpec) -> list[tuple[str, str, str, float, list[list[str]]]]:
    """(id, cs(Host), x-host-header, traffic share, referer tables per viewer kind) per distribution."""
    rng = random.Random(f"hosts:{spec.seed}")
    result = []
    for index, dist in enumerate(distribution_ids(spec.distributions, spec.seed)):
        host = "d" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=13)) + ".cloudfront.net"
        site = SITES[index] if index < len(SITES) else f"site{index}.example.com"
        browser_refs = {"-": 35, f"https://{site}/": 25, f"https://{site}/products/": 12,
                        f"https://{site}/search?q=lamp": 3, "https://www.google.com/": 15, "https://www.bing.com/": 3,
                        "https://duckduckgo.com/": 2, "https://t.co/": 2, "https://www.facebook.com/": 2,
                        "https://www.google.com/search?q=example shop": 1}
        refs = [_table({encode_value(r) if r != "-" else r: w for r, w in table.items()}, 200)
                for table in (browser_refs, {"-": 95, f"https://{site}/": 5}, {"-": 97, f"https://{site}/": 3})]
        result.append((dist, host, site, 1.0 / (index + 1), refs))
    return result


def _plan(spec: SampleSpec, rng: random.Random, dists: list) -> list[tuple[int, datetime, float]]:
    """(distribution index, UTC hour, relative weight) per file, in write order; late files last."""
    plan, start = [], spec.start.astimezone(timezone.utc)
    for h in range(spec.hours):
        hour = start + timedelta(hours=h)
        for d, (_, _, _, share, _) in enumerate(dists):
            count = max(1, spec.files_per_hour + rng.choice((-1, 0, 0, 1)))
            plan += [(d, hour, DIURNAL[hour.hour] * share / count * rng.uniform(0.6, 1.4)) for _ in range(count)]
    for _ in range(spec.late_files):
        hour = start + timedelta(hours=rng.randrange(spec.hours - 1))
        d = rng.choices(range(len(dists)), weights=[dist[3] for dist in dists])[0]
        plan.append((d, hour, DIURNAL[hour.hour] * dists[d][3] / spec.files_per_hour * rng.uniform(0.2, 0.8)))
    return plan


def _lines(pools: _Pools, dist: tuple, hour: datetime, n: int, rng: random.Random, legacy: bool) -> list[str]:
    """`n` log lines for one file. The hot loop: table lookups and one f-string per line."""
    _, host, site, _, refs = dist
    rand = rng.random
    viewers, cum, last = pools.viewers, pools.cum_weights, len(pools.viewers) - 1
    vtotal, plen, rlens = cum[-1], PROFILES, [len(table) for table in refs]
    edges, elen, mmss, ports, tails = pools.edges, len(pools.edges), pools.mmss, pools.ports, pools.id_tails
    stamp = f"{hour:%Y-%m-%d}\t{hour:%H}:"
    # x-edge-request-id: 56 base64url characters ending in '==', i.e. 40 random bytes; encode
    # 39 per line in one call (39 bytes -> exactly 52 characters) and add the 40th's 'xx=='.
    ids, id_bytes = base64.urlsafe_b64encode(rng.randbytes(39 * n)).decode(), rng.randbytes(n)
    out = []
    for i in range(n):
        ip, ua, ua2, kind, profiles, conn, xff, cs_base = viewers[bisect(cum, rand() * vtotal, 0, last)]
        method, stem_status, query_rtype, rtype, last_five, nbytes, cs_extra, timings, http = profiles[int(rand() * plen)]
        proto, tls, version = ("http", "-\t-", "HTTP/1.1") if http else conn
        taken, first = timings[int(rand() * 1024)]
        j = 52 * i
        line = (f"{stamp}{mmss[int(rand() * 3600)]}\t{edges[int(rand() * elen)]}\t{nbytes + int(rand() * 96)}\t"
                f"{ip}\t{method}\t{host}\t{stem_status}\t{refs[kind][int(rand() * rlens[kind])]}\t"
                f"{ua2 if rand() < 0.05 else ua}\t{query_rtype}\t{ids[j:j + 52]}{tails[id_bytes[i]]}\t{site}\t{proto}\t"
                f"{cs_base + cs_extra + int(rand() * 64)}\t{taken}\t{xff}\t{tls}\t{rtype}\t{version}\t-\t-")
        if not legacy:
            line = f"{line}\t{ports[int(rand() * 64512)]}\t{first}\t{last_five}"
            if rand() < 0.01:  # valid per spec: a line may stop 1-4 fields before the header's end
                line = line.rsplit("\t", 1 + int(rand() * 4))[0]
        out.append(line)
    return out


def _gzip(header: str, lines: list[str]) -> bytes:
    return gzip.compress((header + "\n".join(lines) + "\n").encode("utf-8"), compresslevel=6, mtime=0)


def generate(store: ObjectStore, spec: SampleSpec, *, bucket: str = "landing",
             progress: Callable[[int, int], None] | None = None) -> list[ObjectInfo]:
    """Write the sample's files to `bucket` one at a time (memory stays at a couple of files).

    Returns the ObjectInfos in write order; `progress(done_lines, total_lines)` after each file.
    """
    if spec.hours < 1 or spec.lines < 0 or spec.files_per_hour < 1 or spec.distributions < 1 or spec.late_files < 0:
        raise ValueError(f"invalid sample spec: {spec}")
    if not 0.0 <= spec.legacy_share <= 1.0:
        raise ValueError(f"legacy_share must be within [0, 1]: {spec.legacy_share}")
    if spec.late_files and spec.hours < 2:
        raise ValueError("late_files need at least two hours: they are named for an hour before the last")
    utc = spec.start.astimezone(timezone.utc) if spec.start.tzinfo else None
    if utc is None or utc != utc.replace(minute=0, second=0, microsecond=0):
        raise ValueError(f"start must be a tz-aware datetime on a whole hour: {spec.start}")
    rng = random.Random(f"plan:{spec.seed}")
    dists, pools = _distributions(spec), _pools(spec.seed)
    plan = _plan(spec, rng, dists)
    counts = split_exactly(spec.lines, [weight for _, _, weight in plan])
    legacy = set(rng.sample(range(len(plan)), round(spec.legacy_share * len(plan))))
    written, done, keys, pending = [], 0, set(), None

    def publish(key: str, compressed: Future, n: int) -> None:
        nonlocal done
        written.append(store.put(bucket, key, compressed.result()))
        done += n
        if progress is not None:
            progress(done, spec.lines)

    # gzip level 6 costs about twice the line generation and zlib releases the GIL, so one
    # worker compresses file i while this thread renders file i+1; puts stay in plan order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudfront-sample-gzip") as gzipper:
        for index, ((d, hour, _), n) in enumerate(zip(plan, counts)):
            file_rng = random.Random(rng.getrandbits(64))  # drawn even for empty files: keeps later files stable
            key = ""
            while not key or key in keys:
                key = spec.prefix + object_name(dists[d][0], hour, f"{rng.getrandbits(32):08x}")
            if n == 0:
                continue  # fewer lines than files: no empty deliveries
            keys.add(key)
            header = _header(LEGACY_FIELDS if index in legacy else FIELDS)
            compressed = gzipper.submit(_gzip, header, _lines(pools, dists[d], hour, n, file_rng, index in legacy))
            if pending is not None:
                publish(*pending)
            pending = (key, compressed, n)
        if pending is not None:
            publish(*pending)
    return written
