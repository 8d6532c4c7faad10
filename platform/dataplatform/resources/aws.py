"""The AWS session of the `aws` environment, as a dagster-aws resource.

Every boto3 client of the port adapters comes from one `AwsClients` resource, so its region,
endpoint and profile are resource configuration: visible (and settable) in the Dagster UI's
resources page, not hidden in the process environment. Credentials are deliberately not
copied into the configuration (they would be shown); boto3's standard chain (role, profile,
environment) resolves them.

Region: the configured `region_name`, else AWS_REGION, else AWS_DEFAULT_REGION, else the
profile's. botocore alone reads only AWS_DEFAULT_REGION, so with only AWS_REGION set (what the
AWS CLI v2, ECS and Lambda set) a bare `boto3.client(...)` raised NoRegionError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import boto3
from botocore.config import Config
from dagster_aws.utils import ResourceWithBoto3Configuration

from dataplatform.settings import ConfigurationError


class AwsRegionMissing(ConfigurationError):
    """No region in the configuration, AWS_REGION, AWS_DEFAULT_REGION or the profile."""


class AwsClients(ResourceWithBoto3Configuration):
    """One boto3 session for every AWS port adapter (S3, Glue, Kinesis, DynamoDB, SNS, Redshift)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AwsClients:
        """The resource as the environment describes it: region, endpoint override and profile
        become its visible configuration."""
        env = os.environ if environ is None else environ
        return cls(
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            profile_name=env.get("AWS_PROFILE") or None,
        )

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            profile_name=self.profile_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
        )

    def resolved_region(self, session: boto3.session.Session | None = None) -> str:
        region = (
            self.region_name
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or (session or self.session()).region_name
        )
        if not region:
            raise AwsRegionMissing(
                "no AWS region: set region_name on the `aws` resource, AWS_REGION, AWS_DEFAULT_REGION "
                "or a region in the AWS profile"
            )
        return region

    def region_or_none(self) -> str | None:
        try:
            return self.resolved_region()
        except AwsRegionMissing:
            return None

    def client(self, service: str):
        """A boto3 client for `service` with this resource's region, endpoint, TLS and retries."""
        session = self.session()
        return session.client(
            service,
            region_name=self.resolved_region(session),
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        )
