"""Metrics port: numeric data points per namespace, metric name and dimensions, read back as one
statistic per period. `local` = a SQLite file of the raw data points, `aws` = CloudWatch
(PutMetricData / GetMetricStatistics, every namespace prefixed with the deployment's prefix).

Both adapters accept the same data and queries, so nothing that works locally is refused by
CloudWatch: namespaces of 1-255 printable ASCII characters, not starting with ':' or 'AWS/';
metric names, dimension names (1-255) and values (1-1024) of printable ASCII, not blank,
names not starting with ':'; at most 30 dimensions, names distinct; CloudWatch's units;
finite values of magnitude 0 or 2**-360..2**360; timezone-aware timestamps at most two weeks
old and two hours ahead when put. A put is validated whole before anything is stored.

Queries as CloudWatch answers them: a metric is its namespace, name and exact set of dimensions
(a query for {"a": "1"} does not see data put with {"a": "1", "b": "2"}); the start is rounded
down to the minute (5 minutes / the hour for a start over 15 / 63 days ago) and periods, a
multiple of 60 s (300 / 3600 for those older starts), at most 1440 of them, begin there; data
counts in [start, end). Data put with several units gives one datapoint per period and unit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits"
    " Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second"
    " Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None".split()
)
STATISTICS = ("Sum", "Maximum", "Minimum", "Average", "SampleCount")
MAX_DIMENSIONS = 30
MAX_PER_REQUEST = 1000  # PutMetricData: data points per request
MAX_REQUEST_BYTES = 900_000  # PutMetricData takes 1 MB; a pessimistic estimate stays under it
MAX_DATAPOINTS = 1440  # GetMetricStatistics: periods per request
MAX_AGE, MAX_AHEAD = dt.timedelta(days=14), dt.timedelta(hours=2)
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
_UTC = dt.timezone.utc


@dataclass(frozen=True)
class MetricDatum:
    """One data point. Plain data: `Metrics.put` validates it (the time window is relative to then)."""

    namespace: str
    name: str
    value: float
    unit: str = "None"
    timestamp: dt.datetime = field(default_factory=lambda: dt.datetime.now(_UTC))
    dimensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        pairs = self.dimensions.items() if isinstance(self.dimensions, Mapping) else self.dimensions
        object.__setattr__(self, "dimensions", tuple(tuple(p) if isinstance(p, list) else p for p in pairs))


def _text(what: str, text, limit: int, name: bool = False) -> None:
    if not isinstance(text, str) or not 1 <= len(text) <= limit or not _PRINTABLE.fullmatch(text) or not text.strip():
        raise ValueError(f"invalid {what} {text!r}: 1-{limit} printable ASCII characters, not all blank")
    if name and text.startswith(":"):
        raise ValueError(f"invalid {what} {text!r}: must not start with ':'")


def _check_namespace(namespace) -> None:
    _text("namespace", namespace, 255, name=True)
    if namespace.startswith("AWS/"):
        raise ValueError(f"invalid namespace {namespace!r}: 'AWS/' is reserved for AWS services")


def _dimensions(pairs) -> tuple[tuple[str, str], ...]:
    """The dimensions sorted by name, checked."""
    pairs = list(pairs)
    if len(pairs) > MAX_DIMENSIONS:
        raise ValueError(f"{len(pairs)} dimensions: at most {MAX_DIMENSIONS}")
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"invalid dimension {pair!r}: a (name, value) pair")
        _text("dimension name", pair[0], 255, name=True)
        _text(f"value of dimension {pair[0]!r}", pair[1], 1024)
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError(f"dimension names repeat: {sorted(name for name, _ in pairs)}")
    return tuple(sorted(pairs))


def _utc(moment, what: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise ValueError(f"{what} {moment!r} is not a timezone-aware datetime")
    return moment.astimezone(_UTC)


def _validated(data: Sequence[MetricDatum]) -> list[tuple[MetricDatum, tuple, dt.datetime]]:
    """(datum, sorted dimensions, UTC timestamp) for every datum, or ValueError for the first bad one."""
    now, checked = dt.datetime.now(_UTC), []
    for datum in data:
        if not isinstance(datum, MetricDatum):
            raise TypeError(f"{datum!r} is not a MetricDatum")
        _check_namespace(datum.namespace)
        _text("metric name", datum.name, 255)
        if datum.unit not in UNITS:
            raise ValueError(f"invalid unit {datum.unit!r}: one of CloudWatch's units {sorted(UNITS)}")
        value = datum.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{datum.name}: value {value!r} is not a number")
        if not math.isfinite(value) or (value and not 2.0**-360 <= abs(value) <= 2.0**360):
            raise ValueError(f"{datum.name}: value {value!r} is not finite or outside CloudWatch's range 2**-360..2**360")
        stamp = _utc(datum.timestamp, f"{datum.name}: timestamp")
        if not now - MAX_AGE <= stamp <= now + MAX_AHEAD:
            raise ValueError(f"{datum.name}: timestamp {stamp.isoformat()} is more than 14 days old or 2 hours ahead")
        checked.append((datum, _dimensions(datum.dimensions), stamp))
    return checked


def _check_query(namespace, name, dimensions, start, end, period, statistic):
    """(sorted dimensions, start rounded down as CloudWatch rounds it, end), the period checked against them."""
    _check_namespace(namespace)
    _text("metric name", name, 255)
    if not isinstance(dimensions, Mapping):
        raise ValueError(f"dimensions {dimensions!r}: a mapping of name to value")
    if statistic not in STATISTICS:
        raise ValueError(f"invalid statistic {statistic!r}: one of {STATISTICS}")
    start, end = _utc(start, "start"), _utc(end, "end")
    if start >= end:
        raise ValueError(f"start {start.isoformat()} is not before end {end.isoformat()}")
    age = dt.datetime.now(_UTC) - start
    step = 60 if age < dt.timedelta(days=15) else 300 if age < dt.timedelta(days=63) else 3600
    if isinstance(period, bool) or not isinstance(period, int) or period <= 0 or period % step:
        raise ValueError(f"period {period!r}: a positive multiple of {step} seconds for a start {age.days} days ago")
    start = dt.datetime.fromtimestamp(math.floor(start.timestamp() / step) * step, _UTC)
    if math.ceil((end - start).total_seconds() / period) > MAX_DATAPOINTS:
        raise ValueError(f"{start.isoformat()}..{end.isoformat()} is more than {MAX_DATAPOINTS} periods of {period} s")
    return _dimensions(dimensions.items()), start, end


_COMBINE = {
    "Sum": math.fsum, "Maximum": max, "Minimum": min, "SampleCount": lambda v: float(len(v)),
    "Average": lambda v: math.fsum(v) / len(v),
}  # fmt: skip


class Metrics(ABC):
    @abstractmethod
    def put(self, data: Sequence[MetricDatum]) -> int:
        """Store every data point (all validated first: one bad datum stores nothing). Returns how many."""

    @abstractmethod
    def query(
        self, namespace: str, name: str, dimensions: Mapping[str, str], start: dt.datetime, end: dt.datetime,
        period_seconds: int = 60, statistic: str = "Sum",
    ) -> list[tuple[dt.datetime, float]]:
        """(period start in UTC, statistic) for each period holding data of exactly these dimensions, by time."""


class LocalMetrics(Metrics):
    """One row per data point; a put is one BEGIN IMMEDIATE transaction, so several threads and
    processes can write (WAL + busy timeout) and a query sees a put whole or not at all."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(self._connect()) as con:
            con.executescript(
                """
                create table if not exists metric_points (
                    namespace text not null, name text not null, dimensions text not null,
                    timestamp real not null, value real not null, unit text not null);
                create index if not exists metric_points_series on metric_points (namespace, name, dimensions, timestamp);
                """
            )

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.execute("pragma journal_mode=wal")
        return con

    @staticmethod
    def _key(dimensions: tuple[tuple[str, str], ...]) -> str:
        return json.dumps(dict(dimensions), sort_keys=True, separators=(",", ":"))

    def put(self, data: Sequence[MetricDatum]) -> int:
        rows = [
            (d.namespace, d.name, self._key(dims), stamp.timestamp(), float(d.value), d.unit)
            for d, dims, stamp in _validated(data)
        ]
        if rows:
            with contextlib.closing(self._connect()) as con, con:  # `with con`: commit, or roll back on error
                con.execute("begin immediate")
                con.executemany("insert into metric_points values (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def query(self, namespace, name, dimensions, start, end, period_seconds=60, statistic="Sum"):
        dims, start, end = _check_query(namespace, name, dimensions, start, end, period_seconds, statistic)
        with contextlib.closing(self._connect()) as con:
            rows = con.execute(
                "select timestamp, value, unit from metric_points where namespace = ? and name = ? and dimensions = ?"
                " and timestamp >= ? and timestamp < ?",
                (namespace, name, self._key(dims), start.timestamp(), end.timestamp()),
            ).fetchall()
        periods: dict[tuple[int, str], list[float]] = {}
        for stamp, value, unit in rows:
            periods.setdefault((int((stamp - start.timestamp()) // period_seconds), unit), []).append(value)
        return [
            (start + dt.timedelta(seconds=index * period_seconds), _COMBINE[statistic](values))
            for (index, _unit), values in sorted(periods.items())
        ]


class CloudWatchMetrics(Metrics):
    """Namespaces `<namespace_prefix><namespace>`. A put is one PutMetricData per namespace and at
    most 1000 data points (and well under 1 MB); it is validated whole first, but a failed request
    after an earlier one leaves that earlier one stored. CloudWatch makes data visible for queries
    after a short delay (minutes for timestamps a day or more old)."""

    def __init__(self, client, namespace_prefix: str = ""):
        self.client = client
        self.namespace_prefix = namespace_prefix

    def _namespace(self, namespace: str) -> str:
        _check_namespace(namespace)
        _check_namespace(self.namespace_prefix + namespace)
        return self.namespace_prefix + namespace

    @staticmethod
    def _size(datum: MetricDatum, dims) -> int:
        """A pessimistic request size (every character percent-encoded, as the query protocol may)."""
        return 200 + 3 * len(datum.name) + sum(60 + 3 * (len(n) + len(v)) for n, v in dims)

    def put(self, data: Sequence[MetricDatum]) -> int:
        requests: dict[str, list[list]] = {}  # namespace -> [[entries, estimated bytes], ...]
        for datum, dims, stamp in _validated(data):
            size, batches = self._size(datum, dims), requests.setdefault(self._namespace(datum.namespace), [[[], 0]])
            if len(batches[-1][0]) == MAX_PER_REQUEST or batches[-1][1] + size > MAX_REQUEST_BYTES:
                batches.append([[], 0])
            batches[-1][0].append({
                "MetricName": datum.name, "Value": float(datum.value), "Unit": datum.unit, "Timestamp": stamp,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
            })  # fmt: skip
            batches[-1][1] += size
        for namespace, batches in requests.items():
            for entries, _bytes in batches:
                self.client.put_metric_data(Namespace=namespace, MetricData=entries)
        return sum(len(entries) for batches in requests.values() for entries, _bytes in batches)

    def query(self, namespace, name, dimensions, start, end, period_seconds=60, statistic="Sum"):
        dims, start, end = _check_query(namespace, name, dimensions, start, end, period_seconds, statistic)
        response = self.client.get_metric_statistics(
            Namespace=self._namespace(namespace), MetricName=name, Dimensions=[{"Name": n, "Value": v} for n, v in dims],
            StartTime=start, EndTime=end, Period=period_seconds, Statistics=[statistic],
        )  # fmt: skip
        points = sorted(
            (point["Timestamp"].astimezone(_UTC), point.get("Unit", ""), float(point[statistic]))
            for point in response["Datapoints"]
        )
        return [(stamp, value) for stamp, _unit, value in points]
