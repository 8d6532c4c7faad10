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
