"""The one place that turns DATAPLATFORM_ENV into the resource set.

Asset and sensor code only sees ports (lake, catalog, dbt); it never branches on the
environment. In `aws`, the deployment's settings are checked first (dataplatform.deployment),
then every client comes from one dagster-aws resource (`aws`, returned with the ports so it
shows in the UI) built from AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL and AWS_PROFILE;
credentials follow boto3's standard chain. Every adapter is namespaced by the bucket prefix.
"""

from __future__ import annotations

import os

from dataplatform import deployment, settings
from dataplatform.resources.arrivals import NoArrivalQueue, SqsArrivalQueues
from dataplatform.resources.catalog import GlueCatalog, LocalCatalog
from dataplatform.resources.keys import KmsKeys, LocalKeyFile
from dataplatform.resources.kv import DynamoDbKeyValueStore, SqliteKeyValueStore
from dataplatform.resources.lake import LocalObjectStore, S3ObjectStore
from dataplatform.resources.metrics import CloudWatchMetrics, LocalMetrics
from dataplatform.resources.notify import LocalOutbox, SnsNotifier
from dataplatform.resources.oltp import PostgresDatabase, SqliteDatabase
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
            "arrivals": NoArrivalQueue(),  # the arrival sensors list the zones
            "catalog": LocalCatalog(settings.catalog_path()),
            "stream": LocalStreamStore(home / "streams.sqlite"),
            "kv": SqliteKeyValueStore(home / "kv.sqlite"),
            "keys": LocalKeyFile(home / "keys" / "master.key"),
            "notify": LocalOutbox(home / "outbox"),
            "metrics": LocalMetrics(home / "metrics.sqlite"),
            # The operational database: a SQLite file, or PostgreSQL when a DSN is given.
            "oltp": PostgresDatabase(settings.oltp_dsn()) if settings.oltp_dsn() else SqliteDatabase(home / "oltp.sqlite"),
            "snapshots": LocalSnapshotStore(
                home / "snapshots", {p.cluster: home / p.local_file for p in snapshot_policies().values()}
            ),
        }
    else:
        from dataplatform.resources.aws import AwsClients

        # One dagster-aws resource makes every client: region, endpoint and profile show in the UI.
        aws = AwsClients.from_env()
        prefix = deployment.check(os.environ, aws.region_or_none())  # everything missing, at once
        namespace = deployment.namespace(prefix)
        adapters = {
            "aws": aws,
            "lake": S3ObjectStore(aws.client("s3"), bucket_prefix=prefix),
            "arrivals": SqsArrivalQueues(aws.client("sqs"), queue_prefix=prefix.replace(".", "-")),
            "catalog": GlueCatalog(aws.client("glue"), database_prefix=namespace),
            "stream": KinesisStreamStore(aws.client("kinesis"), stream_prefix=prefix),
            "kv": DynamoDbKeyValueStore(aws.client("dynamodb"), table_prefix=prefix),
            "keys": KmsKeys(aws.client("kms"), key_id=deployment.personal_data_key(os.environ, prefix)),
            "notify": SnsNotifier(aws.client("sns"), topic_prefix=prefix.replace(".", "-")),  # no dots in topic names
            "metrics": CloudWatchMetrics(aws.client("cloudwatch"), namespace_prefix=prefix),  # namespaces allow dots
            "oltp": PostgresDatabase(settings.oltp_dsn() or ""),  # RDS; a run that needs it says when the DSN is missing
            "snapshots": RedshiftSnapshotStore(
                aws.client("redshift"), redshift_row_counter_from_env(aws.client("redshift-data"), schema_prefix=namespace)
            ),
        }
    return adapters


def resources(environment: str | None = None) -> dict:
    """Everything the code location binds: the ports plus the dbt invocations (which parse the project)."""
    from dataplatform.dbt import dbt_resource, dbt_warehouse_resource

    check(environment, dbt=True)  # the dbt targets' settings too, in the same report
    adapters = ports(environment)
    # dbt reads the deployment's namespace from its environment (sources, generate_schema_name).
    if "aws" in adapters:
        os.environ[deployment.SCHEMA_PREFIX_VARIABLE] = adapters["catalog"].database_prefix
    else:
        os.environ.pop(deployment.SCHEMA_PREFIX_VARIABLE, None)
    return {**adapters, "dbt": dbt_resource(), "dbt_warehouse": dbt_warehouse_resource()}


def check(environment: str | None = None, dbt: bool = False) -> None:
    """The environment's configuration, before anything is built or connects: every problem at
    once, as one ConfigurationError."""
    if (environment or settings.environment()) == "aws":
        from dataplatform.resources.aws import AwsClients

        deployment.check(os.environ, AwsClients.from_env().region_or_none(), dbt=dbt)
