"""The one place that turns DATAPLATFORM_ENV into the resource set.

Asset and sensor code only sees ports (lake, catalog, dbt); it never branches on the
environment. In `aws`, boto3 reads credentials, region and any endpoint override
(AWS_ENDPOINT_URL) from the standard environment variables.
"""

from __future__ import annotations

import os

from dataplatform import settings
from dataplatform.dbt import dbt_resource
from dataplatform.resources.catalog import GlueCatalog, LocalCatalog
from dataplatform.resources.lake import LocalObjectStore, S3ObjectStore


def resources(environment: str | None = None) -> dict:
    environment = environment or settings.environment()
    if environment == "local":
        lake = LocalObjectStore(settings.lake_root())
        catalog = LocalCatalog(settings.catalog_path())
    else:
        import boto3

        lake = S3ObjectStore(boto3.client("s3"), bucket_prefix=os.environ["DATAPLATFORM_S3_BUCKET_PREFIX"])
        catalog = GlueCatalog(boto3.client("glue"))
    return {"lake": lake, "catalog": catalog, "dbt": dbt_resource()}
