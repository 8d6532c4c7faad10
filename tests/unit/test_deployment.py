"""The `aws` configuration is checked before anything connects, every problem reported at once."""

from __future__ import annotations

import pytest

from dataplatform import deployment
from dataplatform.settings import ConfigurationError

COMPLETE = {
    "DATAPLATFORM_S3_BUCKET_PREFIX": "acme-prod-",
    "ATHENA_S3_STAGING_DIR": "s3://acme-prod-athena-results/",
    "ATHENA_S3_DATA_DIR": "s3://acme-prod-curated/dbt/",
    "REDSHIFT_HOST": "warehouse.example.internal",
    "REDSHIFT_USER": "dataplatform",
    "REDSHIFT_PASSWORD": "secret",
    "REDSHIFT_DATABASE": "dataplatform",
}


def test_a_complete_configuration_passes_and_names_its_namespace():
    assert deployment.check(COMPLETE, "eu-west-1", dbt=True) == "acme-prod-"
    assert deployment.namespace("acme-prod-") == "acme_prod_"
    assert deployment.namespace("acme.prod.") == "acme_prod_"


def test_every_missing_setting_is_named_in_one_message():
    with pytest.raises(ConfigurationError) as raised:
        deployment.check({}, None, dbt=True)
    message = str(raised.value)
    for variable in ("DATAPLATFORM_S3_BUCKET_PREFIX", "ATHENA_S3_STAGING_DIR", "ATHENA_S3_DATA_DIR", "REDSHIFT_HOST",
                     "REDSHIFT_USER", "REDSHIFT_PASSWORD", "REDSHIFT_DATABASE", "AWS_REGION"):
        assert variable in message
    assert "\n" not in message


def test_the_ports_alone_need_only_the_prefix_and_a_region():
    assert deployment.check({"DATAPLATFORM_S3_BUCKET_PREFIX": "acme-"}, "us-east-1") == "acme-"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DATAPLATFORM_S3_BUCKET_PREFIX", "Acme_Prod"), ("DATAPLATFORM_S3_BUCKET_PREFIX", "acme"),
     ("ATHENA_S3_STAGING_DIR", "athena-results/"), ("DATAPLATFORM_PERSONAL_DATA_KEY_ID", "personal-data"),
     ("DATAPLATFORM_PERSONAL_DATA_KEY_ID", "alias/has space")],
)
def test_an_invalid_value_is_named_with_what_it_must_be(variable, value):
    with pytest.raises(ConfigurationError, match=f"{variable}={value!r} is invalid"):
        deployment.check({**COMPLETE, variable: value}, "us-east-1", dbt=True)


def test_a_redshift_lake_needs_no_athena_settings():
    environ = {k: v for k, v in COMPLETE.items() if not k.startswith("ATHENA")} | {"DBT_TARGET": "redshift"}
    assert deployment.check(environ, "us-east-1", dbt=True) == "acme-prod-"


def test_the_keys_port_uses_the_stacks_alias_unless_given_a_key():
    assert deployment.personal_data_key({}, "acme-prod-") == "alias/acme-prod-personal-data"
    assert deployment.personal_data_key({}, "acme.prod.") == "alias/acme-prod-personal-data"  # aliases hold no dots
    for key in ("alias/outreach", "1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab",
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "arn:aws:kms:eu-west-1:123456789012:alias/acme-prod-personal-data"):
        environ = {**COMPLETE, "DATAPLATFORM_PERSONAL_DATA_KEY_ID": key}
        assert deployment.check(environ, "us-east-1", dbt=True) == "acme-prod-"
        assert deployment.personal_data_key(environ, "acme-prod-") == key
