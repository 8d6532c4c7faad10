"""Synthetic CloudFront real-time log records as a Kinesis producer would see them.

`records(RealtimeSpec(...))` yields `(partition_key, data)` in emit order: `data` is one record
in the platform's configured layout (realtime_format.CONFIGURED_FIELDS, tab-separated, trailing
newline) and the partition key is its x-edge-request-id, so records spread over shards.

Traffic is the standard-log generator's (assets/cloudfront/sample.py, same seed, same pools):
Zipf-weighted viewers (IPv4 and IPv6), ~17 % real crawler user agents plus HTTP-library apps,
~5 % double-encoded user agents, cache hits and misses, heavy-tailed sizes, 40+ weighted edges
and the same distributions with their dxxxxxxxxxxxxx.cloudfront.net hosts
(`host_to_distribution`). Arrivals: `rate` records per second on average, Poisson per second
around a diurnal slope, a slow AR(1) wobble and occasional bursts (a crawler or a campaign).

Delivery (shared with the web-analytics producer, `deliver`): records are emitted a little after
they happen (0-0.9 s, so neighbours are slightly out of order); a `late_share` of them 6 s to
5 min after (they trail later records by more than 5 s); a `duplicate_share` is emitted twice
(a producer retry 0.2-3 s later: identical bytes, same request id).

Memory does not grow with `seconds * rate`: one second of records plus the pending late and
retried ones (about `late_share * rate * 150`), and one count per second of the window.
Deterministic for a spec (random.Random seeded from it; for a given Python version).
"""

from __future__ import annotations

import base64
import heapq
import random
from bisect import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from math import exp, log, sqrt

from assets.cloudfront.realtime_format import CONFIGURED_FIELDS
from assets.cloudfront.sample import PROFILES, SampleSpec, _distributions, _pools, _table
from dataplatform.sampling import DIURNAL

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The hot loop renders exactly these fields; keep it in step with the configuration.
assert CONFIGURED_FIELDS == ("timestamp", "c-ip", "sc-status", "sc-bytes", "cs-host", "x-edge-location",
                             "x-edge-request-id", "cs-user-agent", "x-edge-result-type")


@dataclass(frozen=True)
class RealtimeSpec:
    start: datetime  # tz-aware
    seconds: int = 300
    rate: int = 200  # records per second on average (Poisson-ish arrivals, some burstiness)
    distributions: int = 2
    seed: int = 7
    duplicate_share: float = 0.0  # share of records emitted twice (a producer retry: identical bytes, same request id)
    late_share: float = 0.0  # share of records emitted 6 s .. 5 min late, i.e. after later ones


# ---------------------------------------------------------------------------------------------
# Shared by the stream producers (this one and assets/web_analytics/sample.py).

def check_stream_spec(start: datetime, seconds: int, rate: int, duplicate_share: float, late_share: float) -> None:
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be tz-aware: {start}")
    if seconds < 1 or rate < 0:
        raise ValueError(f"seconds must be >= 1 and rate >= 0: {seconds}, {rate}")
    for name, share in (("duplicate_share", duplicate_share), ("late_share", late_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be within [0, 1]: {share}")


def start_units(start: datetime, units: int) -> int:
    """`start` in units of 1/units s since the epoch, rounded up (so timestamps stay >= start)."""
    micros = (start - _EPOCH) // timedelta(microseconds=1)
    return -(-micros * units // 1_000_000)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # normal approximation; the tails do not matter here
        return max(0, round(rng.gauss(mean, sqrt(mean))))
    limit, k, p = exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def arrivals_per_second(rng: random.Random, start: datetime, seconds: int, rate: float,
                        boost: dict[int, float] | None = None) -> list[int]:
    """Records per second of the window: a diurnal slope (dataplatform.sampling.DIURNAL,
    interpolated), a slow AR(1) log-normal wobble (sigma 0.25) and bursts (on average one every
    ~4 min, 3-20 s at 1.5-3x), normalised so the mean is `rate`; then `boost[second]` factors
    (an anomaly) and Poisson noise."""
    utc = start.astimezone(timezone.utc)
    offset = utc.hour * 3600 + utc.minute * 60 + utc.second
    weights, x, burst_left, burst = [], rng.gauss(0.0, 0.25), 0, 1.0
    phi, sigma = 0.9, 0.25
    for s in range(seconds):
        t = (offset + s) % 86_400
        hour, frac = divmod(t, 3600)
        diurnal = DIURNAL[hour] + (DIURNAL[(hour + 1) % 24] - DIURNAL[hour]) * frac / 3600
        x = phi * x + sqrt(1 - phi * phi) * rng.gauss(0.0, sigma)
        if burst_left == 0 and rng.random() < 1 / 240:
            burst_left, burst = rng.randint(3, 20), rng.uniform(1.5, 3.0)
        factor = burst if burst_left else 1.0
        burst_left = max(0, burst_left - 1)
        weights.append(diurnal * exp(x) * factor)
    scale = rate * seconds / sum(weights)
    boost = boost or {}
    return [_poisson(rng, w * scale * boost.get(s, 1.0)) for s, w in enumerate(weights)]


def deliver(batches: Iterable[list[tuple[int, str, bytes]]], units: int, rng: random.Random, *,
            late_share: float, duplicate_share: float) -> Iterator[tuple[str, bytes]]:
    """Emit order for per-second batches of `(time, key, data)`; batch `s` holds the records with
    time in [s*units, (s+1)*units), any order. A record is emitted at time + 0-0.9 s (mean 0.12),
    or, for `late_share` of them, 6 s - 5 min later (log-uniform); `duplicate_share` of them again
    0.2-3 s after their first emission. Yields `(key, data)` in emission-time order."""
    jitters = [min(int(rng.expovariate(1 / 0.12) * units), int(0.9 * units)) for _ in range(1024)]
    late_lo, late_hi = log(6.0), log(300.0)
    rand, uniform, push, pop = rng.random, rng.uniform, heapq.heappush, heapq.heappop
    pending: list[tuple[int, str, bytes]] = []  # emitted in a later second
    for s, batch in enumerate(batches):
        boundary = (s + 1) * units
        now = []
        append = now.append
        for ts, key, data in batch:
            if late_share and rand() < late_share:
                due = ts + int(exp(uniform(late_lo, late_hi)) * units)
            else:
                due = ts + jitters[int(rand() * 1024)]
            if due < boundary:
                append((due, key, data))
            else:
                push(pending, (due, key, data))
            if duplicate_share and rand() < duplicate_share:
                retry = due + int(uniform(0.2, 3.0) * units)
                if retry < boundary:
                    append((retry, key, data))
                else:
                    push(pending, (retry, key, data))
        while pending and pending[0][0] < boundary:
            append(pop(pending))
        now.sort()
        for _, key, data in now:
            yield key, data
    while pending:
        _, key, data = pop(pending)
        yield key, data


# ---------------------------------------------------------------------------------------------

def _hosts(spec: RealtimeSpec) -> list[tuple[str, str, float]]:
    """(distribution id, cs-host, traffic share) per distribution: the standard generator's."""
    dists = _distributions(SampleSpec(start=spec.start, distributions=spec.distributions, seed=spec.seed))
    return [(dist, host, share) for dist, host, _, share, _ in dists]


def host_to_distribution(spec: RealtimeSpec) -> dict[str, str]:
    """cs-host (d + 13 lowercase letters or digits + .cloudfront.net) -> distribution id (E...)."""
    return {host: dist for dist, host, _ in _hosts(spec)}


@lru_cache(maxsize=4)
def _viewers(seed: int) -> tuple[list[tuple], list[float]]:
    """The standard generator's viewers reduced to what the configured fields need:
    (c-ip, user agent, double-encoded user agent, [(sc-status, sc-bytes base, x-edge-result-type)])."""
    pools = _pools(seed)
    shapes = {kind: [(p[1].rsplit("\t", 1)[1], p[5], p[3]) for p in profiles]
              for kind, profiles in pools.profiles.items()}
    viewers = [(ip, once, twice, shapes[kind]) for ip, once, twice, kind, *_ in pools.viewers]
    return viewers, pools.cum_weights


def _batches(spec: RealtimeSpec, counts: list[int], rng: random.Random) -> Iterator[list[tuple[int, str, bytes]]]:
    viewers, cum = _viewers(spec.seed)
    pools = _pools(spec.seed)
    last, vtotal = len(viewers) - 1, cum[-1]
    edges, elen, tails = pools.edges, len(pools.edges), pools.id_tails
    hosts = _table({host: share for _, host, share in _hosts(spec)}, 200)
    hlen = len(hosts)
    rand, plen = rng.random, PROFILES
    base = start_units(spec.start, 1000)
    millis = [f"{i:03d}" for i in range(1000)]
    for s, n in enumerate(counts):
        # x-edge-request-id: 56 base64url characters ending in '==' (40 random bytes), as in sample.py.
        ids, id_bytes = base64.urlsafe_b64encode(rng.randbytes(39 * n)).decode(), rng.randbytes(n)
        origin = base + s * 1000
        batch = []
        append = batch.append
        for i in range(n):
            ip, ua, ua2, shapes = viewers[bisect(cum, rand() * vtotal, 0, last)]
            status, nbytes, rtype = shapes[int(rand() * plen)]
            offset = int(rand() * 1000)
            sec, ms = divmod(origin + offset, 1000)
            j = 52 * i
            rid = ids[j:j + 52] + tails[id_bytes[i]]
            append((s * 1000 + offset, rid,
                    f"{sec}.{millis[ms]}\t{ip}\t{status}\t{nbytes + int(rand() * 96)}\t{hosts[int(rand() * hlen)]}\t"
                    f"{edges[int(rand() * elen)]}\t{rid}\t{ua2 if rand() < 0.05 else ua}\t{rtype}\n".encode()))
        yield batch


def records(spec: RealtimeSpec) -> Iterator[tuple[str, bytes]]:
    """(partition key = x-edge-request-id, record bytes) in emit order; streams."""
    check_stream_spec(spec.start, spec.seconds, spec.rate, spec.duplicate_share, spec.late_share)
    if spec.distributions < 1:
        raise ValueError(f"distributions must be >= 1: {spec.distributions}")
    counts = arrivals_per_second(random.Random(f"realtime-arrivals:{spec.seed}"), spec.start, spec.seconds, spec.rate)
    content = random.Random(f"realtime-records:{spec.seed}")
    delivery = random.Random(f"realtime-delivery:{spec.seed}")
    yield from deliver(_batches(spec, counts, content), 1000, delivery,
                       late_share=spec.late_share, duplicate_share=spec.duplicate_share)
