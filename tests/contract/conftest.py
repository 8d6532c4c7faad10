"""Fixtures that hand each contract test a fresh `local` or `aws` (moto) adapter."""

from __future__ import annotations

import uuid

import boto3
import pytest

from dataplatform.resources.catalog import GlueCatalog, LocalCatalog
from dataplatform.resources.lake import LocalObjectStore, S3ObjectStore

REGION = "us-east-1"
BUCKETS = ("landing", "raw")


@pytest.fixture(scope="session")
def moto_endpoint():
    """One in-process moto server on loopback for the whole session, with dummy credentials only."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_CONFIG_FILE": "/dev/null",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def aws_client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


@pytest.fixture(params=["local", "aws"])
def store(request, tmp_path):
    """An empty ObjectStore with the buckets `landing` and `raw`."""
    if request.param == "local":
        return LocalObjectStore(tmp_path / "lake")
    s3 = aws_client("s3", request.getfixturevalue("moto_endpoint"))
    prefix = f"t{uuid.uuid4().hex[:12]}-"
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=prefix + bucket)
    return S3ObjectStore(s3, bucket_prefix=prefix)


# Glue's per-call batch limits, which moto does not enforce.
GLUE_BATCH_LIMITS = {
    "BatchCreatePartition": ("PartitionInputList", 100),
    "BatchDeletePartition": ("PartitionsToDelete", 25),
}


def enforce_glue_batch_limits(params, model, **_):
    field, limit = GLUE_BATCH_LIMITS[model.name]
    if len(params[field]) > limit:
        raise ValueError(f"{model.name}: {len(params[field])} {field} > {limit}")


@pytest.fixture(params=["local", "aws"])
def catalog(request, tmp_path):
    if request.param == "local":
        return LocalCatalog(tmp_path / "catalog.sqlite")
    glue = aws_client("glue", request.getfixturevalue("moto_endpoint"))
    for operation in GLUE_BATCH_LIMITS:
        glue.meta.events.register(f"provide-client-params.glue.{operation}", enforce_glue_batch_limits)
    return GlueCatalog(glue)


@pytest.fixture
def database() -> str:
    """A database name no other test uses (Glue state in moto outlives a test)."""
    return f"db_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def table_location(catalog, tmp_path) -> str:
    """A store-style URI for a table's data: a path locally, s3:// on AWS."""
    if isinstance(catalog, LocalCatalog):
        return str(tmp_path / "lake" / "raw" / "cloudfront") + "/"
    return f"s3://t{uuid.uuid4().hex[:12]}-raw/cloudfront/"


# Key-value and notification ports.

# DynamoDB keeps at most 38 significant digits in a Number and refuses more; moto only checks the
# magnitude, so a 56-digit Kinesis sequence number stored as N would pass here and fail on AWS.
DYNAMODB_NUMBER_DIGITS = 38


def _numbers(value):
    if isinstance(value, dict):
        if set(value) == {"N"}:
            yield value["N"]
        else:
            for child in value.values():
                yield from _numbers(child)
    elif isinstance(value, list):
        for child in value:
            yield from _numbers(child)


def enforce_dynamodb_number_precision(params, model, **_):
    from decimal import Decimal

    for text in _numbers(params):
        # Not normalize(): that rounds to the decimal context's 28 digits.
        significant = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
        if len(significant) > DYNAMODB_NUMBER_DIGITS:
            raise ValueError(f"{model.name}: number {text} has more than {DYNAMODB_NUMBER_DIGITS} significant digits")


def dynamodb_client(endpoint: str):
    client = aws_client("dynamodb", endpoint)
    client.meta.events.register("provide-client-params.dynamodb.*", enforce_dynamodb_number_precision)
    return client


# DynamoDB applies each single-item write atomically: a conditional write is checked and applied
# as one step. moto 5.2.5's backend runs requests on server threads without a lock, so two
# conditional PutItems can both pass their check. This serialises moto's DynamoDB item
# operations, which is what the AWS adapter relies on from the real service.
_DYNAMODB_ITEM_OPERATIONS = ("put_item", "get_item", "delete_item", "query", "scan", "transact_write_items")


def _serialised(original, lock):
    def operation(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    return operation


@pytest.fixture(scope="session")
def atomic_moto_dynamodb():
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    with pytest.MonkeyPatch.context() as patch:
        for name in _DYNAMODB_ITEM_OPERATIONS:
            patch.setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name), lock))
        yield


@pytest.fixture(params=["local", "aws"])
def kv(request, tmp_path):
    """An empty KeyValueStore; on AWS its tables get a prefix no other test uses."""
    from dataplatform.resources.kv import DynamoDbKeyValueStore, SqliteKeyValueStore

    if request.param == "local":
        return SqliteKeyValueStore(tmp_path / "kv.sqlite")
    request.getfixturevalue("atomic_moto_dynamodb")
    client = dynamodb_client(request.getfixturevalue("moto_endpoint"))
    return DynamoDbKeyValueStore(client, table_prefix=f"t{uuid.uuid4().hex[:12]}-")


class SqsInbox:
    """Reads what SNS delivered: an SQS queue subscribed to the topic (envelope delivery, which keeps
    the Subject and MessageId; raw delivery would drop the Subject)."""

    def __init__(self, notifier, endpoint: str):
        self.notifier = notifier
        self.sqs = aws_client("sqs", endpoint)
        self.queues: dict[str, str] = {}

    def subscribe(self, topic: str) -> None:
        url = self.sqs.create_queue(QueueName=f"q{uuid.uuid4().hex[:12]}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.notifier.client.subscribe(TopicArn=self.notifier.topic_arn(topic), Protocol="sqs", Endpoint=queue_arn)
        self.queues[topic] = url

    def read(self, topic: str, count: int, timeout: float = 10) -> list[dict]:
        """What arrived, waiting until `count` messages are in or `timeout` passes."""
        import json
        import time

        found, deadline = [], time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            response = self.sqs.receive_message(QueueUrl=self.queues[topic], MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for raw in response.get("Messages", []):
                envelope = json.loads(raw["Body"])
                found.append(
                    {"id": envelope["MessageId"], "subject": envelope.get("Subject"), "message": json.loads(envelope["Message"])}
                )
                self.sqs.delete_message(QueueUrl=self.queues[topic], ReceiptHandle=raw["ReceiptHandle"])
        return found


class OutboxInbox:
    def __init__(self, notifier):
        self.notifier = notifier

    def subscribe(self, topic: str) -> None:
        pass

    def read(self, topic: str, count: int, timeout: float = 10) -> list[dict]:
        return self.notifier.messages(topic)


@pytest.fixture(params=["local", "aws"])
def notifier_and_inbox(request, tmp_path):
    """(Notifier, inbox): subscribe the inbox to a topic before publishing, then read what arrived."""
    from dataplatform.resources.notify import LocalOutbox, SnsNotifier

    if request.param == "local":
        notifier = LocalOutbox(tmp_path / "outbox")
        return notifier, OutboxInbox(notifier)
    endpoint = request.getfixturevalue("moto_endpoint")
    notifier = SnsNotifier(aws_client("sns", endpoint), topic_prefix=f"t{uuid.uuid4().hex[:12]}-")
    return notifier, SqsInbox(notifier, endpoint)


# Streams: LocalStreamStore and KinesisStreamStore (moto).


def _route_to_open_shards(self, partition_key, explicit_hash_key):
    """Kinesis routing: the one *open* shard whose inclusive hash-key range holds the key."""
    import hashlib

    from moto.kinesis.exceptions import InvalidArgumentError

    if not isinstance(partition_key, str) or not 1 <= len(partition_key) <= 256:
        raise InvalidArgumentError("partition_key")
    key = int(explicit_hash_key) if explicit_hash_key else int(hashlib.md5(partition_key.encode()).hexdigest(), 16)
    if key >= 2**128:
        raise InvalidArgumentError("explicit_hash_key")
    return next((s for s in self.shards.values() if s.is_open and s.starting_hash <= key <= s.ending_hash), None)


def _split_keeping_records(original):
    from collections import OrderedDict

    def split_shard(self, shard_to_split, new_starting_hash_key):
        shard = self.shards.get(shard_to_split)
        kept = shard.records if shard is not None else None
        if shard is not None:
            shard.records = OrderedDict()  # moto would re-put them; Kinesis leaves them in the parent
        try:
            original(self, shard_to_split, new_starting_hash_key)
        finally:
            if shard is not None:
                shard.records = kept

    return split_shard


@pytest.fixture
def faithful_kinesis_resharding(moto_endpoint, monkeypatch):
    """moto 5.2.5 reshards unlike Kinesis: routing also matches closed shards (listed first, so
    every put after a split still lands on the closed parent, never on its children), and a split
    empties the parent and re-puts its records (back into the parent, renumbered). Patch the
    in-process server's model so a closed parent keeps its records and new puts go to the children,
    as in Kinesis. `monkeypatch` fails loudly if a later moto renames these internals."""
    from moto.kinesis import models

    monkeypatch.setattr(models.Stream, "get_shard_for_key", _route_to_open_shards)
    monkeypatch.setattr(models.Stream, "split_shard", _split_keeping_records(models.Stream.split_shard))


@pytest.fixture(params=["local", "aws"])
def stream_store(request, tmp_path):
    """An empty StreamStore; on AWS, moto's Kinesis with resharding made faithful (see above)."""
    from dataplatform.resources.stream import KinesisStreamStore, LocalStreamStore

    if request.param == "local":
        return LocalStreamStore(tmp_path / "streams.sqlite")
    request.getfixturevalue("faithful_kinesis_resharding")
    return KinesisStreamStore(aws_client("kinesis", request.getfixturevalue("moto_endpoint")))


@pytest.fixture
def stream_name() -> str:
    """A stream name no other test uses (Kinesis state in moto outlives a test)."""
    return f"s-{uuid.uuid4().hex[:12]}"
