"""The Metrics contract: every test runs against LocalMetrics (a SQLite file) and CloudWatchMetrics
(moto's CloudWatch on the session's loopback server), and checks the statistics against values
computed here in plain Python from the data put.

moto 5.2.5's GetMetricStatistics differs from CloudWatch in two ways the contract depends on, so
`faithful_moto_cloudwatch` replaces it on the in-process server (as conftest does for Kinesis):
  * dimensions: moto returns every data point whose dimensions *include* the requested ones (a
    request without dimensions sees everything); CloudWatch treats each exact set of dimensions as
    its own metric and returns only that one;
  * periods: moto starts them at the first matching data point (12:00:07, 12:01:07, ...);
    CloudWatch starts them at the (rounded) StartTime and reports one datapoint per unit.
moto does not enforce PutMetricData's 1000 data points per request nor GetMetricStatistics' 1440
datapoints; `enforce_cloudwatch_limits` refuses such requests on the client, as CloudWatch would.
Real CloudWatch also makes data visible only after a short delay; moto at once.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import random
import uuid

import botocore.session
import pytest

from contract.conftest import aws_client
from dataplatform.resources.metrics import UNITS, CloudWatchMetrics, LocalMetrics, MetricDatum

UTC = dt.timezone.utc
MINUTE = dt.timedelta(minutes=1)


def _faithful_get_metric_statistics(self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit=None):
    """GetMetricStatistics as CloudWatch answers it: the exact set of dimensions, periods from StartTime."""
    from moto.cloudwatch.models import Statistics

    wanted = sorted((d["Name"], d["Value"]) for d in dimensions or [])
    periods: dict = {}
    for point in self.get_all_metrics():
        if (point.namespace, point.name) != (namespace, metric_name) or not start_time <= point.timestamp < end_time:
            continue
        if (unit and point.unit != unit) or sorted((d.name, d.value) for d in point.dimensions) != wanted:
            continue
        index = int((point.timestamp - start_time).total_seconds() // period)
        periods.setdefault((index, point.unit or ""), []).append(point)
    found = []
    for (index, point_unit), points in sorted(periods.items()):
        statistics = Statistics(stats, start_time + dt.timedelta(seconds=index * period), point_unit or None)
        statistics.metric_data.extend(points)
        found.append(statistics)
    return found


@pytest.fixture
def faithful_moto_cloudwatch(moto_endpoint, monkeypatch):
    from moto.cloudwatch.models import CloudWatchBackend

    monkeypatch.setattr(CloudWatchBackend, "get_metric_statistics", _faithful_get_metric_statistics)


def enforce_cloudwatch_limits(params, model, **_):
    if model.name == "PutMetricData" and len(params["MetricData"]) > 1000:
        raise ValueError(f"PutMetricData: {len(params['MetricData'])} data points > 1000")
    if model.name == "GetMetricStatistics":
        periods = math.ceil((params["EndTime"] - params["StartTime"]).total_seconds() / params["Period"])
        if periods > 1440:
            raise ValueError(f"GetMetricStatistics: {periods} datapoints > 1440")


@pytest.fixture(params=["local", "aws"])
def metrics(request, tmp_path):
    """An empty Metrics; on AWS its namespaces get a prefix no other test uses (moto's state outlives a test).
    `.put_sizes` lists the data points of each PutMetricData request (AWS only)."""
    if request.param == "local":
        return LocalMetrics(tmp_path / "metrics.sqlite")
    request.getfixturevalue("faithful_moto_cloudwatch")
    client = aws_client("cloudwatch", request.getfixturevalue("moto_endpoint"))
    adapter = CloudWatchMetrics(client, namespace_prefix=f"t{uuid.uuid4().hex[:12]}-")
    adapter.put_sizes = []
    client.meta.events.register("provide-client-params.cloudwatch.*", enforce_cloudwatch_limits)
    client.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData", lambda params, **_: adapter.put_sizes.append(len(params["MetricData"]))
    )
    return adapter


@pytest.fixture
def base() -> dt.datetime:
    """A whole minute 20 minutes ago: the data of a test lies in the 10 minutes from here."""
    now = dt.datetime.now(UTC)
    return now.replace(second=0, microsecond=0) - 20 * MINUTE


def expected(points, start, period, statistic):
    """[(period start, statistic)] for (timestamp, value) points, periods of `period` seconds from `start`."""
    groups: dict = {}
    for stamp, value in points:
        index = int((stamp - start).total_seconds()) // period
        groups.setdefault(start + dt.timedelta(seconds=index * period), []).append(value)
    combine = {"Sum": sum, "Maximum": max, "Minimum": min, "SampleCount": len, "Average": lambda v: sum(v) / len(v)}
    return [(stamp, float(combine[statistic](values))) for stamp, values in sorted(groups.items())]


def random_points(base, count, seed=7):
    rng = random.Random(seed)  # whole seconds, quarter values: every sum is exact in binary
    return [(base + dt.timedelta(seconds=rng.randrange(600)), rng.randrange(-40, 400) / 4) for _ in range(count)]


def data(points, namespace="web", name="requests", dimensions=(), unit="Count"):
    return [MetricDatum(namespace, name, value, unit, stamp, dimensions) for stamp, value in points]


def assert_series(actual, wanted):
    assert [stamp for stamp, _ in actual] == [stamp for stamp, _ in wanted]
    assert all(stamp.utcoffset() == dt.timedelta(0) for stamp, _ in actual)
    assert [value for _, value in actual] == pytest.approx([value for _, value in wanted])


def test_units_are_cloudwatchs():
    model = botocore.session.get_session().get_service_model("cloudwatch")
    assert UNITS == set(model.shape_for("StandardUnit").enum)


@pytest.mark.parametrize("statistic", ["Sum", "Maximum", "Minimum", "Average", "SampleCount"])
def test_put_then_query_per_minute(metrics, base, statistic):
    points = random_points(base, 200)
    other = random_points(base, 50, seed=8)
    assert metrics.put(data(points, dimensions=(("site", "a"),)) + data(other, namespace="api", dimensions=(("site", "a"),))) == 250
    end = base + 10 * MINUTE
    assert_series(metrics.query("web", "requests", {"site": "a"}, base, end, 60, statistic), expected(points, base, 60, statistic))
    assert_series(metrics.query("api", "requests", {"site": "a"}, base, end, 60, statistic), expected(other, base, 60, statistic))
    assert metrics.query("web", "errors", {"site": "a"}, base, end) == []


def test_periods_start_at_the_rounded_start(metrics, base):
    points = random_points(base, 120)
    metrics.put(data(points))
    # A start with seconds is rounded down to the minute: the query covers data from `base`.
    assert_series(metrics.query("web", "requests", {}, base + dt.timedelta(seconds=42), base + 10 * MINUTE), expected(points, base, 60, "Sum"))
    # Periods of 5 minutes begin at the start, not on the clock's 5 minutes; the end is exclusive.
    start, end = base + 2 * MINUTE, base + 9 * MINUTE
    inside = [(stamp, value) for stamp, value in points if start <= stamp < end]
    assert_series(metrics.query("web", "requests", {}, start, end, 300, "Sum"), expected(inside, start, 300, "Sum"))
    assert_series(metrics.query("web", "requests", {}, start, end, 300, "SampleCount"), expected(inside, start, 300, "SampleCount"))


def test_dimensions_filter_exactly(metrics, base):
    sets = {
        "none": (),
        "a1": (("a", "1"),),
        "a2": (("a", "2"),),
        "a1b2": (("b", "2"), ("a", "1")),  # order is no part of a metric's identity
    }
    points = {label: random_points(base, 30, seed=index) for index, label in enumerate(sets)}
    metrics.put([datum for label, dims in sets.items() for datum in data(points[label], dimensions=dims)])
    end = base + 10 * MINUTE
    for label, query in {"none": {}, "a1": {"a": "1"}, "a2": {"a": "2"}, "a1b2": {"a": "1", "b": "2"}}.items():
        assert_series(metrics.query("web", "requests", query, base, end), expected(points[label], base, 60, "Sum"))
    assert metrics.query("web", "requests", {"b": "2"}, base, end) == []
    assert metrics.query("web", "requests", {"a": "1", "b": "3"}, base, end) == []


def test_more_than_a_request_holds_is_all_stored(metrics, base):
    points = random_points(base, 2500)
    assert metrics.put(data(points)) == 2500
    end = base + 10 * MINUTE
    for statistic in ("SampleCount", "Sum"):
        assert_series(metrics.query("web", "requests", {}, base, end, 60, statistic), expected(points, base, 60, statistic))
    if isinstance(metrics, CloudWatchMetrics):
        assert metrics.put_sizes == [1000, 1000, 500]


def invalid_data(now):
    good = dict(namespace="web", name="requests", value=1.0, unit="Count", timestamp=now - MINUTE, dimensions=())
    changes = [
        {"unit": "Furlongs"}, {"unit": "count"}, {"value": math.nan}, {"value": math.inf}, {"value": 2.0**400},
        {"namespace": "AWS/x"}, {"namespace": ""}, {"namespace": ":x"}, {"namespace": "n" * 256}, {"namespace": "tab\there"},
        {"name": ""}, {"name": "x" * 256}, {"name": "ünïcode"},
        {"dimensions": tuple((f"d{i}", "v") for i in range(31))}, {"dimensions": (("a", "1"), ("a", "2"))},
        {"dimensions": (("", "v"),)}, {"dimensions": (("a", ""),)}, {"dimensions": (("a", "x" * 1025),)},
        {"dimensions": ((":a", "v"),)}, {"dimensions": ("ab",)},
        {"timestamp": now - dt.timedelta(weeks=3)}, {"timestamp": now + dt.timedelta(hours=3)},
        {"timestamp": (now - MINUTE).replace(tzinfo=None)},
    ]  # fmt: skip
    return [MetricDatum(**{**good, **change}) for change in changes]


def test_invalid_data_is_refused_and_nothing_stored(metrics, base):
    now = dt.datetime.now(UTC)
    valid = data(random_points(base, 20))
    for bad in invalid_data(now):
        with pytest.raises(ValueError):
            metrics.put(valid + [bad])
    assert metrics.query("web", "requests", {}, base, base + 10 * MINUTE, 60, "SampleCount") == []
    # The limits themselves are accepted: 30 dimensions, long names and values, the edges of the window
    # (CloudWatch's 255 characters hold the adapter's namespace prefix too).
    longest = "n" * (255 - len(getattr(metrics, "namespace_prefix", "")))
    edge = MetricDatum(longest, "x" * 255, -(2.0**360), "None", now - dt.timedelta(days=13, hours=23),
                       tuple((f"d{i:02}", "v" * 1024) for i in range(30)))  # fmt: skip
    assert metrics.put([edge, MetricDatum("web", "ahead", 0.0, "Seconds", now + dt.timedelta(hours=1))]) == 2
    if isinstance(metrics, CloudWatchMetrics):
        assert metrics.put_sizes and max(metrics.put_sizes) <= 1000


def test_invalid_queries_are_refused(metrics, base):
    end = base + 10 * MINUTE
    for kwargs in (
        {"statistic": "p99"}, {"period_seconds": 90}, {"period_seconds": 0}, {"period_seconds": 30},
        {"end": base}, {"start": base.replace(tzinfo=None)}, {"start": end - 1441 * MINUTE},
        {"namespace": "AWS/EC2"}, {"name": ""}, {"dimensions": {"": "v"}},
        {"dimensions": {f"d{i}": "v" for i in range(31)}},
        # a start over 15 days ago needs periods of 5 minutes
        {"start": base - dt.timedelta(days=16), "end": base - dt.timedelta(days=15), "period_seconds": 120},
    ):  # fmt: skip
        query = {"namespace": "web", "name": "requests", "dimensions": {}, "start": base, "end": end, **kwargs}
        with pytest.raises(ValueError):
            metrics.query(**query)
    assert metrics.query("web", "requests", {}, base - dt.timedelta(days=16), base - dt.timedelta(days=15), 300) == []


# Local only.


def _put_many(path, barrier, writer, count):
    metrics = LocalMetrics(path)
    barrier.wait()
    stamp = dt.datetime.now(UTC) - 5 * MINUTE
    for index in range(count):  # many small transactions, interleaved with the other writer's
        metrics.put([MetricDatum("web", "requests", float(index), "Count", stamp, (("writer", writer),)) for _ in range(5)])


def test_local_metrics_are_safe_for_several_processes(tmp_path):
    path, count = tmp_path / "metrics.sqlite", 60
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [context.Process(target=_put_many, args=(path, barrier, writer, count)) for writer in "ab"]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    metrics, now = LocalMetrics(path), dt.datetime.now(UTC)
    for writer in "ab":
        counts = metrics.query("web", "requests", {"writer": writer}, now - 15 * MINUTE, now, 900, "SampleCount")
        sums = metrics.query("web", "requests", {"writer": writer}, now - 15 * MINUTE, now, 900, "Sum")
        assert [value for _, value in counts] == [5.0 * count]
        assert [value for _, value in sums] == [5.0 * sum(range(count))]
