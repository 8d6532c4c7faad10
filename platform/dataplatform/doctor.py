"""`dataplatform doctor`: is this deployment usable, end to end? One row per thing the platform
needs, each checked with the call the platform itself makes (a write where it writes).

    ok       present and usable
    created  absent, and the platform creates it on first use (Glue databases, streams, tables, topics)
    missing  absent, and nothing creates it (a bucket, the Athena workgroup): the deployment is broken
    failed   present but unusable (access denied, unreachable): the reason is the detail
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dataplatform import deployment, domains, settings
from dataplatform.landing_zones import zones
from dataplatform.resources.arrivals import SqsArrivalQueues
from dataplatform.resources.lake import BucketMissing
from dataplatform.streams import streams

OK, CREATED, MISSING, FAILED = "ok", "created", "missing", "failed"
BUCKETS = ("landing", "raw", "restricted", "curated", "quarantine")


@dataclass(frozen=True)
class Finding:
    what: str
    status: str
    detail: str = ""


def _probe(what: str, check: Callable[[], tuple[str, str]]) -> Finding:
    try:
        status, detail = check()
    except Exception as error:  # noqa: BLE001 - the doctor reports every failure, it never raises
        status, detail = FAILED, f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    return Finding(what, status, detail)


def _write_probe(lake, bucket: str) -> tuple[str, str]:
    key = f"_doctor-{uuid.uuid4().hex}"
    try:
        lake.put(bucket, key, b"probe")
    except BucketMissing:
        return MISSING, f"{lake.uri(bucket, '')} does not exist"
    lake.delete(bucket, key)
    return OK, f"{lake.uri(bucket, '')} writable"


def lake_checks(lake) -> list[Finding]:
    return [_probe(f"bucket {bucket}", lambda bucket=bucket: _write_probe(lake, bucket)) for bucket in BUCKETS]


def _error_code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def _exists(call: Callable[[], object], absent_codes: Iterable[str], absent: str, present_detail: str) -> tuple[str, str]:
    try:
        call()
    except Exception as error:
        if _error_code(error) in absent_codes:
            return absent, "not there yet" if absent == CREATED else "does not exist"
        raise
    return OK, present_detail


def aws_checks(aws, prefix: str, namespace: str, environ) -> list[Finding]:
    glue, kinesis, dynamodb, sns, athena = (aws.client(s) for s in ("glue", "kinesis", "dynamodb", "sns", "athena"))
    databases = sorted({database for zone in zones().values() for database, _ in zone.raw_tables})
    findings = [
        _probe(f"glue database {namespace}{name}", lambda name=name: _exists(
            lambda: glue.get_database(Name=namespace + name), ["EntityNotFoundException"], CREATED, "exists"))
        for name in databases
    ]
    findings += [
        _probe(f"kinesis stream {prefix}{name}", lambda name=name: _exists(
            lambda: kinesis.describe_stream_summary(StreamName=prefix + name), ["ResourceNotFoundException"], CREATED,
            "exists"))
        for name in streams()
    ]
    for table in domains.owned("kv_tables"):
        findings.append(_probe(f"dynamodb table {prefix}{table}", lambda table=table: _exists(
            lambda: dynamodb.describe_table(TableName=prefix + table), ["ResourceNotFoundException"], CREATED, "exists")))
    topic_names = {arn.rsplit(":", 1)[-1] for page in sns.get_paginator("list_topics").paginate()
                   for arn in (t["TopicArn"] for t in page["Topics"])}
    for topic in domains.owned("topics"):
        name = prefix.replace(".", "-") + topic
        findings.append(Finding(f"sns topic {name}", OK if name in topic_names else CREATED,
                                "exists" if name in topic_names else "not there yet"))
    queues = SqsArrivalQueues(aws.client("sqs"), queue_prefix=prefix.replace(".", "-"))
    for zone in zones().values():
        name = queues.queue_name(zone.name)
        findings.append(_probe(f"sqs queue {name}", lambda zone=zone: _exists(
            lambda: queues.url(zone.name), ["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"],
            MISSING, "exists (the landing bucket's events for the zone)")))
    work_group = environ.get("ATHENA_WORK_GROUP") or "primary"
    findings.append(_probe(f"athena workgroup {work_group}", lambda: _exists(
        lambda: athena.get_work_group(WorkGroup=work_group), ["InvalidRequestException"], MISSING, "exists")))
    key = environ.get("DATAPLATFORM_KMS_KEY_ID") or f"alias/{prefix.replace('.', '-')}dataplatform"  # the stack's alias
    findings.append(_probe(f"kms key {key}", lambda: _key_state(aws.client("kms"), key)))
    personal = deployment.personal_data_key(environ, prefix)  # the keys port's: tokens and encrypted fields
    findings.append(_probe(f"kms key {personal}", lambda: _key_state(aws.client("kms"), personal)))
    findings.append(_probe("redshift endpoint", lambda: _reachable(environ.get("REDSHIFT_HOST"),
                                                                   int(environ.get("REDSHIFT_PORT") or 5439))))
    return findings


def _key_state(kms, key: str) -> tuple[str, str]:
    try:
        state = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
    except Exception as error:
        if _error_code(error) == "NotFoundException":
            return MISSING, "does not exist (the buckets, streams and topics are encrypted with it)"
        raise
    return (OK, "enabled") if state == "Enabled" else (FAILED, f"key state {state}")


def _reachable(host: str | None, port: int) -> tuple[str, str]:
    if not host:
        return MISSING, "REDSHIFT_HOST is not set"
    try:
        with socket.create_connection((host, port), timeout=5):
            return OK, f"{host}:{port} accepts connections"
    except OSError as error:
        return FAILED, f"Redshift at {host}:{port}: {error.strerror or error}"


def local_checks() -> list[Finding]:
    home = settings.home()

    def writable() -> tuple[str, str]:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"probe")
        probe.unlink()
        return OK, f"{home} writable"

    def dbt() -> tuple[str, str]:
        path = settings.executable("dbt")
        return (OK, path) if path != "dbt" else (MISSING, "no dbt beside the interpreter nor on PATH")

    return [_probe("home", writable), _probe("dbt executable", dbt)]


def diagnose() -> list[Finding]:
    """Every finding for the configured environment (the configuration itself checked first)."""
    from dataplatform.environments import ports

    adapters = ports()
    findings = lake_checks(adapters["lake"])
    if "aws" in adapters:
        prefix = deployment.check(os.environ, adapters["aws"].region_or_none())
        findings += aws_checks(adapters["aws"], prefix, deployment.namespace(prefix), os.environ)
    else:
        findings += local_checks()
    return findings
