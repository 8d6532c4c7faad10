"""What an `aws` deployment must be told, checked before anything connects: every missing or
invalid setting is reported at once, by name, as one ConfigurationError (no KeyError, no
placeholder defaults for what must be real). The README's "Running on AWS" table lists these.

The bucket prefix is the deployment's namespace. Everything it owns carries it: buckets and
DynamoDB tables (`<prefix>`), SNS topics and Kinesis streams (`<prefix>`, dots as dashes), Glue
databases and the dbt/Athena/Redshift schemas (`<namespace>`: the prefix with `-` and `.` as `_`,
which Glue and Athena accept), so deployments in one account never read or re-point each other's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dataplatform.settings import ConfigurationError

PREFIX_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{0,38}[.-]")
SCHEMA_PREFIX_VARIABLE = "DATAPLATFORM_SCHEMA_PREFIX"  # read by dbt (sources, generate_schema_name)


@dataclass(frozen=True)
class Requirement:
    variable: str
    meaning: str
    pattern: re.Pattern | None = None
    optional: bool = False  # checked only when set


BUCKET_PREFIX = Requirement(
    "DATAPLATFORM_S3_BUCKET_PREFIX",
    "the deployment's namespace: buckets <prefix>landing, <prefix>raw, <prefix>quarantine; lower case, digits, "
    "'-' or '.', ending in '-' or '.'",
    PREFIX_PATTERN,
)
ATHENA = (
    Requirement("ATHENA_S3_STAGING_DIR", "Athena query results, s3://bucket/path/", re.compile(r"s3://[^/]+/.*")),
    Requirement("ATHENA_S3_DATA_DIR", "where dbt writes Athena tables, s3://bucket/path/", re.compile(r"s3://[^/]+/.*")),
)
REDSHIFT = (
    Requirement("REDSHIFT_HOST", "the Redshift cluster endpoint"),
    Requirement("REDSHIFT_USER", "the Redshift database user"),
    Requirement("REDSHIFT_PASSWORD", "the Redshift user's password"),
    Requirement("REDSHIFT_DATABASE", "the Redshift database"),
)
LAKE_TARGETS = {"athena": ATHENA, "redshift": REDSHIFT}
# The keys port's KMS key defaults to the stack's alias, named from the prefix like everything else
# the deployment owns (personal_data_key), so it is only checked when set.
PERSONAL_DATA_KEY = Requirement(
    "DATAPLATFORM_PERSONAL_DATA_KEY_ID",
    "the KMS key that wraps the personal data's keys and the token keys: a key id, key ARN, alias/<name> or alias ARN",
    re.compile(
        r"alias/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
        r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+"
    ),
    optional=True,
)


def required(environ: Mapping[str, str], dbt: bool) -> list[Requirement]:
    """The settings the ports need, and with `dbt` those of the dbt targets too."""
    needs = [BUCKET_PREFIX, PERSONAL_DATA_KEY]
    if dbt:
        needs += LAKE_TARGETS.get(environ.get("DBT_TARGET") or "athena", ())
        if (environ.get("DBT_WAREHOUSE_TARGET") or "redshift") == "redshift":
            needs += [r for r in REDSHIFT if r not in needs]
    return needs


def problems(environ: Mapping[str, str], region: str | None, dbt: bool) -> list[str]:
    found = []
    for requirement in required(environ, dbt):
        value = environ.get(requirement.variable, "")
        if not value:
            if not requirement.optional:
                found.append(f"{requirement.variable} is not set ({requirement.meaning})")
        elif requirement.pattern is not None and not requirement.pattern.fullmatch(value):
            found.append(f"{requirement.variable}={value!r} is invalid ({requirement.meaning})")
    if not region:
        found.append("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS profile)")
    return found


def check(environ: Mapping[str, str] | None = None, region: str | None = None, dbt: bool = False) -> str:
    """The bucket prefix, once every setting needed (the dbt targets' too with `dbt`) is valid."""
    environ = os.environ if environ is None else environ
    found = problems(environ, region, dbt)
    if found:
        raise ConfigurationError(f"DATAPLATFORM_ENV=aws is not configured: {'; '.join(found)}")
    return environ[BUCKET_PREFIX.variable]


def personal_data_key(environ: Mapping[str, str], prefix: str) -> str:
    """The keys port's KMS key: the setting, else the stack's alias `alias/<prefix>personal-data`."""
    return environ.get(PERSONAL_DATA_KEY.variable) or f"alias/{prefix.replace('.', '-')}personal-data"


def namespace(prefix: str) -> str:
    """The prefix as Glue databases and SQL schemas accept it: `acme-prod-` -> `acme_prod_`."""
    return re.sub(r"[-.]", "_", prefix)
