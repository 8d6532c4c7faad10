"""S3 event notifications -> the zone's SQS queue -> the arrival sensor, on moto's S3 + SQS.

Objects delivered for an hour far older than any watermark are requested all the same (the
queue's cost follows new objects, not their names); messages are deleted only on the tick
after their run requests; a tick whose cursor is lost (its requests not recorded) sees the
messages again and asks for the same run keys, which the daemon would skip as duplicates."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import datetime, timezone

import pytest

from dataplatform.landing_zones import zone
from dataplatform.resources.arrivals import SqsArrivalQueues, parse_event
from dataplatform.resources.lake import S3ObjectStore
from sensors import s3_arrivals
from contract.conftest import aws_client

NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)


@pytest.fixture
def deployment(moto_endpoint):
    """A landing bucket notifying a per-zone queue of created objects, as the template declares."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    s3, sqs = aws_client("s3", moto_endpoint), aws_client("sqs", moto_endpoint)
    s3.create_bucket(Bucket=prefix + "landing")
    # Hidden for 1 s after a receive (300 s in production): a lost tick's messages come back soon.
    queues = SqsArrivalQueues(sqs, queue_prefix=prefix, visibility_seconds=1)
    url = sqs.create_queue(QueueName=queues.queue_name("cloudfront"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=prefix + "landing",
        NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "cloudfront/"}]}},
        }]},
    )
    return S3ObjectStore(s3, bucket_prefix=prefix), queues.queue_for("cloudfront"), sqs, url


def poll(action, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = action()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def deliver(lake, name: str) -> str:
    key = f"cloudfront/{name}"
    etag = lake.put("landing", key, gzip.compress(b"#Version: 1.0\n", mtime=0)).etag
    return f"{key}@{etag}"


def test_created_objects_of_any_hour_are_requested_and_acknowledged_after(deployment):
    lake, queue, sqs, url = deployment
    cf = zone("cloudfront")
    old = deliver(lake, "E1AAA.2026-01-02-03.a.gz")  # eleven months old: no listing window reaches it
    new = deliver(lake, "E1AAA.2026-12-04-11.b.gz")
    lake.put("landing", "vpcflowlogs/other-zone.gz", b"x")  # another zone's prefix: not this queue
    bad = deliver(lake, "not-a-delivery.txt")

    requests, cursor, stats = s3_arrivals.evaluate_queue(cf, queue, None, NOW)
    assert stats["rejected"] == 1 and stats["rejected_keys"] == [bad.split("@")[0]]
    ranges = {(r.partition_key, r.tags["dataplatform/objects"]) for r in requests}
    assert ranges == {("2026-01-02-03:00", "1"), ("2026-12-04-11:00", "1")}
    assert {r.run_key for r in requests} == {
        s3_arrivals.run_request(cf, hour, hour, [obj]).run_key
        for hour, obj in ((datetime(2026, 1, 2, 3, tzinfo=timezone.utc), old), (datetime(2026, 12, 4, 11, tzinfo=timezone.utc), new))
    }

    # The cursor was lost (the tick's requests never recorded): once their visibility times out,
    # the messages come back, with the same run keys.
    replay = poll(lambda: s3_arrivals.evaluate_queue(cf, queue, None, NOW), lambda r: len(r[0]) == 2)
    assert {r.run_key for r in replay[0]} == {r.run_key for r in requests}

    # Recorded: the next tick acknowledges them, and the queue is empty.
    after, cursor, stats = s3_arrivals.evaluate_queue(cf, queue, replay[1], NOW)
    assert after == [] and stats["messages"] == 0
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_event_bodies_other_than_object_creation_carry_no_arrivals():
    assert parse_event(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    assert parse_event("not json") == []
    removed = {"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "cloudfront/a.gz"}}}]}
    assert parse_event(json.dumps(removed)) == []
    created = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "cloudfront/a+b%3D.gz", "eTag": "e1", "size": 3}}}]}
    [arrival] = parse_event(json.dumps(created))
    assert (arrival.key, arrival.etag, arrival.size) == ("cloudfront/a b=.gz", "e1", 3)
