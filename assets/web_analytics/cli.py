"""Web analytics' command-line hooks: `dataplatform produce web-analytics` and the serving
layer's line in `dataplatform summary`."""

from __future__ import annotations

from dataplatform.domains import Stream


def _options(group) -> None:
    group.add_argument("--anomaly-minute", type=int, default=None, help="web-analytics: minute offset with a traffic spike")


def _records(args, start):
    from assets.web_analytics.sample import EventsSpec, events

    return events(EventsSpec(start=start, seconds=args.seconds, rate=args.rate, seed=args.seed,
                             duplicate_share=args.duplicates, late_share=args.late, anomaly_minute=args.anomaly_minute))


def summarise(console, ports) -> None:
    """The key-value serving layer and the alerts outbox of the web-analytics stream."""
    try:
        counters = ports["kv"].scan("web_analytics_counters")
    except LookupError:
        return  # no stream consumed yet
    if counters:
        minutes = [(key, item["count"]) for key, item in counters if key.startswith("minute#page view#")]
        busiest = max(minutes, key=lambda kv: kv[1]) if minutes else ("-", 0)
        alerts = ports["notify"].messages("web-analytics-alerts")
        console.print(
            f"web analytics: {len(counters)} exactly-once counters in the key-value store; busiest minute of page views "
            f"{busiest[0].rsplit('#', 1)[-1]} ({busiest[1]}); {len(alerts)} anomaly alert(s) in the outbox"
            + (f": {alerts[-1]['subject']}" if alerts else "")
        )


def owned() -> dict[str, list[str]]:
    from assets.web_analytics.assets import ALERT_TOPIC, ALERTS_TABLE, COUNTERS_TABLE, KPI_TABLE

    return {"kv_tables": [COUNTERS_TABLE, KPI_TABLE, ALERTS_TABLE], "topics": [ALERT_TOPIC]}


STREAMS = {"web-analytics": Stream(stream="web_analytics_events", records=_records, add_options=_options,
                                    demo=dict(rate=30, seconds=900, duplicates=0.02, late=0.01, anomaly_minute=12))}
SUMMARIES = [summarise]
