"""The one place that turns DATAPLATFORM_ENV into the resource set.

Asset and sensor code only sees ports (lake, catalog, dbt); it never branches on the
environment. In `aws`, every client comes from one dagster-aws resource (`aws`, returned with
the ports so it shows in the UI) built from AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL
and AWS_PROFILE; credentials follow boto3's standard chain.
"""

from __future__ import annotations

import os

from dataplatform import settings
from dataplatform.resources.catalog import GlueCatalog, LocalCatalog
from dataplatform.resources.kv import DynamoDbKeyValueStore, SqliteKeyValueStore
from dataplatform.resources.lake import LocalObjectStore, S3ObjectStore
from dataplatform.resources.notify import LocalOutbox, SnsNotifier
from dataplatform.resources.snapshots import LocalSnapshotStore, RedshiftSnapshotStore, redshift_row_counter_from_env
from dataplatform.resources.stream import KinesisStreamStore, LocalStreamStore
from dataplatform.snapshots import snapshot_policies


def ports(environment: str | None = None) -> dict:
    """The service ports alone: what sampling, producing, summaries and retention need (no dbt)."""
    environment = environment or settings.environment()
    if environment == "local":
        home = settings.home()
        adapters = {
            "lake": LocalObjectStore(settings.lake_root()),
            "catalog": LocalCatalog(settings.catalog_path()),
            "stream": LocalStreamStore(home / "streams.sqlite"),
            "kv": SqliteKeyValueStore(home / "kv.sqlite"),
            "notify": LocalOutbox(home / "outbox"),
            "snapshots": LocalSnapshotStore(
                home / "snapshots", {p.cluster: home / p.local_file for p in snapshot_policies().values()}
            ),
        }
    else:
        from dataplatform.resources.aws import AwsClients

        prefix = os.environ.get("DATAPLATFORM_S3_BUCKET_PREFIX")
        if not prefix:
            raise settings.ConfigurationError(
                "DATAPLATFORM_ENV=aws needs DATAPLATFORM_S3_BUCKET_PREFIX (buckets are <prefix>landing, "
                "<prefix>raw, <prefix>quarantine; DynamoDB tables and SNS topics share the prefix)"
            )
        # One dagster-aws resource makes every client: region, endpoint and profile show in the UI.
        aws = AwsClients.from_env()
        adapters = {
            "aws": aws,
            "lake": S3ObjectStore(aws.client("s3"), bucket_prefix=prefix),
            "catalog": GlueCatalog(aws.client("glue")),
            "stream": KinesisStreamStore(aws.client("kinesis")),
            "kv": DynamoDbKeyValueStore(aws.client("dynamodb"), table_prefix=prefix),
            "notify": SnsNotifier(aws.client("sns"), topic_prefix=prefix.replace(".", "-")),  # no dots in topic names
            "snapshots": RedshiftSnapshotStore(
                aws.client("redshift"), redshift_row_counter_from_env(aws.client("redshift-data"))
            ),
        }
    return adapters


def resources(environment: str | None = None) -> dict:
    """Everything the code location binds: the ports plus the dbt invocations (which parse the project)."""
    from dataplatform.dbt import dbt_resource, dbt_warehouse_resource

    return {**ports(environment), "dbt": dbt_resource(), "dbt_warehouse": dbt_warehouse_resource()}
