"""Two `aws` deployments in one account (moto on 127.0.0.1): the ports built by
`environments.ports("aws")` keep each deployment's tables, streams, key-value items and topics
apart; `dataplatform doctor` reports what each one lacks."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contract.conftest import aws_client
from dataplatform import doctor, environments
from dataplatform.lake_tables import HIVE_PARTITION_KEYS, hive_values, publish_partition
from dataplatform.landing_zones import zone
from dataplatform.resources.catalog import Table
from dataplatform.resources.keys import KeyUnavailable
from dataplatform.resources.lake import BucketMissing
from dataplatform.retention import apply_retention

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=timezone.utc)
OLD_HOUR = NOW.replace(minute=0) - timedelta(days=200)  # beyond the VPC zone's 90-day retention


def _deployment(monkeypatch, endpoint: str, prefix: str) -> dict:
    """The ports of one deployment, its buckets created as the README says."""
    s3 = aws_client("s3", endpoint)
    for bucket in ("landing", "raw", "quarantine"):
        s3.create_bucket(Bucket=prefix + bucket)
    monkeypatch.setenv("DATAPLATFORM_ENV", "aws")
    monkeypatch.setenv("DATAPLATFORM_S3_BUCKET_PREFIX", prefix)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return environments.ports()


@pytest.fixture
def two(moto_endpoint, monkeypatch):
    token = uuid.uuid4().hex[:8]
    return [_deployment(monkeypatch, moto_endpoint, f"{name}-{token}-") for name in ("prod", "staging")]


def _flow_logs_table(ports) -> Table:
    vpc = zone("vpcflowlogs")
    database, name = vpc.raw_tables[0]
    ports["catalog"].ensure_database(database)
    table = Table(database, name, (("bytes", "bigint"),), HIVE_PARTITION_KEYS, ports["lake"].uri("raw", "vpc_flow/flow_logs/"))
    ports["catalog"].ensure_table(table)
    return table


def test_each_deployment_keeps_its_own_catalog_tables_and_retention(two, tmp_path):
    prod, staging = two
    prod_table = _flow_logs_table(prod)
    path = tmp_path / "part.parquet"
    pq.write_table(pa.table({"bytes": [1, 2, 3]}), path)
    publish_partition(prod["lake"], prod["catalog"], prod_table, "raw", OLD_HOUR, path)
    # The second deployment registers the same logical table: before namespacing it re-pointed
    # prod's table at its own bucket.
    _flow_logs_table(staging)
    database, name = prod_table.database, prod_table.name
    assert prod["catalog"].get_table(database, name).location == prod["lake"].uri("raw", "vpc_flow/flow_logs/")
    assert staging["catalog"].get_table(database, name).location == staging["lake"].uri("raw", "vpc_flow/flow_logs/")
    assert prod["catalog"].list_partitions(database, name) == [hive_values(OLD_HOUR)]
    assert staging["catalog"].list_partitions(database, name) == []
    # Glue holds one namespaced database per deployment, never the bare name.
    glue = prod["aws"].client("glue")
    names = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert {prod["catalog"].database_prefix + database, staging["catalog"].database_prefix + database} <= names
    assert database not in names
    # Retention in staging sees nothing of prod's, and prod's own dry run works and lists its hour.
    assert apply_retention(zone("vpcflowlogs"), staging["lake"], staging["catalog"], NOW, dry_run=True) == []
    expired = apply_retention(zone("vpcflowlogs"), prod["lake"], prod["catalog"], NOW, dry_run=False)
    assert [item.partition for item in expired] == [hive_values(OLD_HOUR)]
    assert list(prod["lake"].list("raw", prefix="vpc_flow/flow_logs/")) == []


def test_a_deployment_never_consumes_the_others_stream_records_items_or_topics(two):
    prod, staging = two
    for ports in two:
        ports["stream"].create_stream("web_analytics_events", 1)
        ports["kv"].ensure_table("web_analytics_counters")
    prod["stream"].put_records("web_analytics_events", [("k", b"prod-1"), ("k", b"prod-2")])
    prod["kv"].put("web_analytics_counters", "minute#x", {"count": 2}, expected_version=None)
    prod["notify"].publish("web-analytics-alerts", "spike", {"count": 2})

    def records(ports) -> list[bytes]:
        store, found = ports["stream"], []
        for shard in store.list_shards("web_analytics_events"):
            found += [record.data for record in store.read("web_analytics_events", shard.shard_id)]
        return found

    assert sorted(records(prod)) == [b"prod-1", b"prod-2"]
    assert records(staging) == []
    assert staging["kv"].scan("web_analytics_counters") == []
    assert [key for key, _ in prod["kv"].scan("web_analytics_counters")] == ["minute#x"]


def test_each_deployment_wraps_data_keys_with_its_own_kms_key(two):
    prod, staging = two
    kms = aws_client("kms", prod["aws"].endpoint_url)
    for ports in two:  # the stack's alias of each deployment, the keys port's default
        assert ports["keys"].key_id == f"alias/{ports['lake'].bucket_prefix}personal-data"
        kms.create_alias(AliasName=ports["keys"].key_id, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    data_key = prod["keys"].generate_data_key({"purpose": "test"})
    assert prod["keys"].decrypt_data_key(data_key.wrapped, {"purpose": "test"}) == data_key.plaintext
    with pytest.raises(KeyUnavailable):
        staging["keys"].decrypt_data_key(data_key.wrapped, {"purpose": "test"})


def test_doctor_reports_what_a_deployment_lacks(two, monkeypatch):
    prod, _ = two
    monkeypatch.setenv("DATAPLATFORM_S3_BUCKET_PREFIX", prod["lake"].bucket_prefix)
    monkeypatch.setenv("REDSHIFT_HOST", "127.0.0.1")
    monkeypatch.setenv("REDSHIFT_PORT", "1")  # nothing listens there
    aws_client("s3", prod["aws"].endpoint_url).delete_bucket(Bucket=prod["lake"].bucket_prefix + "quarantine")
    # A write into a missing bucket names it (not a bare NoSuchBucket from PutObject).
    with pytest.raises(BucketMissing, match=f"bucket {prod['lake'].bucket_prefix}quarantine does not exist"):
        prod["lake"].put("quarantine", "x", b"x")
    bucket_prefix = prod["lake"].bucket_prefix
    aws_client("sqs", prod["aws"].endpoint_url).create_queue(QueueName=f"{bucket_prefix}cloudfront-arrivals")
    findings = {finding.what: finding for finding in doctor.diagnose()}
    assert findings[f"sqs queue {bucket_prefix}cloudfront-arrivals"].status == doctor.OK
    assert findings[f"sqs queue {bucket_prefix}vpcflowlogs-arrivals"].status == doctor.MISSING
    kms = aws_client("kms", prod["aws"].endpoint_url)
    kms.create_alias(AliasName=f"alias/{prod['lake'].bucket_prefix}dataplatform",
                     TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    assert {f.what: f for f in doctor.diagnose()}[f"kms key alias/{prod['lake'].bucket_prefix}dataplatform"].status == doctor.OK
    assert findings["bucket landing"].status == doctor.OK and findings["bucket raw"].status == doctor.OK
    assert findings["bucket quarantine"].status == doctor.MISSING
    stream = f"kinesis stream {prod['lake'].bucket_prefix}web_analytics_events"
    assert findings[stream].status == doctor.CREATED  # the sensors create streams on first use
    assert findings[f"kms key alias/{prod['lake'].bucket_prefix}dataplatform"].status == doctor.MISSING
    assert findings["redshift endpoint"].status == doctor.FAILED
    assert findings[f"kms key alias/{bucket_prefix}personal-data"].status == doctor.MISSING
    assert "127.0.0.1:1" in findings["redshift endpoint"].detail
