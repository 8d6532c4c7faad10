"""Where a landing zone's arrival sensor learns of new objects.

In `aws`, from S3 event notifications: the landing bucket sends every ObjectCreated event under
a zone's prefix to that zone's SQS queue (platform/infrastructure/cloudformation.yaml), so a
tick costs what arrived since the last one, whatever hour the objects' names carry. Messages
are acknowledged (deleted) only on the tick after the one that requested their runs, when the
daemon (or catch-up) has durably recorded those requests; a message not acknowledged in time
is delivered again, and its run key (the objects' keys and ETags) makes the request a duplicate
the daemon skips. Locally there is no queue: the sensor lists the zone instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote_plus

MAX_BATCH = 10  # SQS's limit per ReceiveMessage / DeleteMessageBatch
# Received messages stay hidden this long: past the next tick (sensors tick every 60 s), which
# acknowledges them; if it never comes, they are delivered again.
VISIBILITY_SECONDS = 300


@dataclass(frozen=True)
class Arrival:
    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class Received:
    arrivals: list[Arrival]
    receipts: list[str]  # every message received, to acknowledge once its requests are recorded


class NoArrivalQueue:
    """The embedded default: arrivals are found by listing the zone."""

    def queue_for(self, zone_name: str) -> None:
        return None


class SqsArrivalQueues:
    """The `aws` adapter: one queue per landing zone, `<prefix><zone>-arrivals`."""

    def __init__(self, client, queue_prefix: str = "", visibility_seconds: int = VISIBILITY_SECONDS):
        self.client = client
        self.queue_prefix, self.visibility_seconds = queue_prefix, visibility_seconds
        self._urls: dict[str, str] = {}

    def queue_name(self, zone_name: str) -> str:
        return f"{self.queue_prefix}{zone_name}-arrivals"

    def queue_for(self, zone_name: str) -> ZoneQueue:
        return ZoneQueue(self, zone_name)

    def url(self, zone_name: str) -> str:
        if zone_name not in self._urls:  # (looked up once per process)
            self._urls[zone_name] = self.client.get_queue_url(QueueName=self.queue_name(zone_name))["QueueUrl"]
        return self._urls[zone_name]

    def receive(self, zone_name: str, limit: int) -> Received:
        arrivals, receipts, seen = [], [], set()
        while len(receipts) < limit:
            response = self.client.receive_message(
                QueueUrl=self.url(zone_name), MaxNumberOfMessages=min(MAX_BATCH, limit - len(receipts)),
                WaitTimeSeconds=0, VisibilityTimeout=self.visibility_seconds,
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                seen.add(message["MessageId"])
                receipts.append(message["ReceiptHandle"])
                arrivals += parse_event(message["Body"])
        return Received(arrivals, receipts)

    def acknowledge(self, zone_name: str, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), MAX_BATCH):
            batch = receipts[start : start + MAX_BATCH]
            self.client.delete_message_batch(
                QueueUrl=self.url(zone_name), Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(batch)]
            )


@dataclass(frozen=True)
class ZoneQueue:
    """One zone's queue, as its arrival sensor uses it."""

    queues: SqsArrivalQueues
    zone_name: str

    def receive(self, limit: int) -> Received:
        return self.queues.receive(self.zone_name, limit)

    def acknowledge(self, receipts: Sequence[str]) -> None:
        self.queues.acknowledge(self.zone_name, receipts)


def parse_event(body: str) -> list[Arrival]:
    """The created objects of one S3 event notification (s3:TestEvent and others: none)."""
    try:
        document = json.loads(body)
    except ValueError:
        return []
    arrivals = []
    for record in document.get("Records", []) if isinstance(document, dict) else []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        obj = record.get("s3", {}).get("object", {})
        if "key" in obj:
            # Keys arrive URL-encoded, spaces as '+'.
            arrivals.append(Arrival(unquote_plus(obj["key"]), str(obj.get("eTag", "")).strip('"'), int(obj.get("size", 0))))
    return arrivals
