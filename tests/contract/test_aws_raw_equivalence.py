"""The raw zones on `aws` (S3 + Glue + Kinesis on moto, through `environments.ports("aws")`) hold
exactly the rows they hold on `local`, for the same deliveries: CloudFront and VPC hours, a MIMIC
delivery, web-analytics events on the stream (ranges from the checkpoint sensor's own tick). The
same assets run against both port sets; rows are compared sorted, column by column, except where
a record sits in its stream (shard, sequence number, arrival time), which each store assigns."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timezone

import dagster as dg
import pyarrow.parquet as pq
import pytest

from contract.conftest import aws_client
from dataplatform import environments

START = datetime(2026, 11, 24, tzinfo=timezone.utc)
HOURS = [f"2026-11-24-0{h}:00" for h in range(2)]
PLACED_BY_THE_STORE = ("shard_id", "sequence_number", "arrival_time")


def _deliver(ports) -> int:
    """Writes the deliveries; returns the number of stream records put."""
    from assets.clinical import sample as mimic
    from assets.cloudfront import sample as cloudfront
    from assets.vpc_flow import sample as vpc

    lake = ports["lake"]
    cloudfront.generate(lake, cloudfront.SampleSpec(start=START, hours=2, lines=600, distributions=2, files_per_hour=2,
                                                    late_files=0, seed=11))
    vpc.generate(lake, vpc.SampleSpec(start=START, hours=2, records=600, accounts=1, late_files=0, seed=11))
    mimic.write_delivery(lake, mimic.generate_tables(mimic.SampleSpec(patients=8, seed=11)), "delivery-1")
    from assets.web_analytics.sample import EventsSpec, events
    from dataplatform.streams import streams

    policy = streams()["web_analytics_events"]
    ports["stream"].create_stream(policy.name, policy.shards)
    records = list(events(EventsSpec(start=START, seconds=60, rate=5, seed=11)))
    ports["stream"].put_records(policy.name, records)
    return len(records)


def _build(ports) -> None:
    from assets.clinical.assets import clinical_raw
    from assets.cloudfront.assets import cloudfront_raw
    from assets.vpc_flow.assets import vpc_flow_raw

    for asset in (cloudfront_raw, vpc_flow_raw):
        for hour in HOURS:
            assert dg.materialize([asset], resources=ports, partition_key=hour).success
    config = {"ops": {clinical_raw.op.name: {"config": {"delivery_id": "delivery-1"}}}}
    assert dg.materialize([clinical_raw], resources=ports, run_config=config).success
    from assets.web_analytics.stream import web_analytics_ranges
    from dataplatform.streams import streams
    from sensors.kinesis_checkpoints import checkpoint_sensor

    with dg.instance_for_test() as instance:
        sensor = checkpoint_sensor(streams()["web_analytics_events"])
        definitions = dg.Definitions(assets=[web_analytics_ranges], sensors=[sensor], resources=ports)
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=ports, definitions=definitions))
        assert len(tick.run_requests) == 1
        assert dg.materialize([web_analytics_ranges], resources=ports, instance=instance,
                              run_config=tick.run_requests[0].run_config).success


def _rows(ports) -> dict[str, list[tuple]]:
    """Every raw Parquet object's rows, by table folder (the key without its partition path)."""
    lake, tables = ports["lake"], {}
    for info in lake.list("raw"):
        if not info.key.endswith(".parquet"):
            continue
        folder = "/".join(part for part in info.key.split("/")[:-1] if "=" not in part)
        table = pq.read_table(io.BytesIO(lake.get("raw", info.key)))
        table = table.drop_columns([c for c in PLACED_BY_THE_STORE if c in table.column_names])
        tables.setdefault(folder, []).extend(
            tuple(repr(value) for value in row.values()) for row in table.to_pylist()
        )
    return {folder: sorted(rows) for folder, rows in tables.items()}


@pytest.fixture
def aws_ports(moto_endpoint, monkeypatch):
    prefix = f"eq-{uuid.uuid4().hex[:8]}-"
    s3 = aws_client("s3", moto_endpoint)
    for bucket in ("landing", "raw", "quarantine"):
        s3.create_bucket(Bucket=prefix + bucket)
    monkeypatch.setenv("DATAPLATFORM_S3_BUCKET_PREFIX", prefix)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return environments.ports("aws")


@pytest.mark.slow
def test_the_raw_zones_on_aws_hold_the_rows_they_hold_locally(aws_ports, home):
    local_ports = environments.ports("local")
    for ports in (local_ports, aws_ports):
        produced = _deliver(ports)
        _build(ports)
    local, aws = _rows(local_ports), _rows(aws_ports)
    assert set(local) == set(aws)
    assert {"cloudfront/access_logs", "vpc_flow/flow_logs", "web_analytics/events"} <= set(local)
    assert any(f.startswith("clinical/") for f in local) and len(local["web_analytics/events"]) == produced
    differing = [folder for folder in local if local[folder] != aws[folder]]
    assert differing == [], differing
    # Registered in this deployment's own Glue databases, pointing at its own bucket.
    table = aws_ports["catalog"].get_table("raw_vpc_flow", "flow_logs")
    assert table.location.startswith(aws_ports["lake"].uri("raw", ""))
