"""The AWS deployment agrees with the code: platform/infrastructure/iam_actions.yaml lists exactly
the boto3 calls the port adapters make (derived from their source with `ast`),
cloudformation.yaml grants each role exactly the actions of its sections and lints clean, the
buckets follow the landing zones' retention, and dagster.aws.yaml is a valid production instance."""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import boto3
import botocore.session
import dagster as dg
import pytest
import yaml
from botocore import xform_name
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

from dataplatform.landing_zones import zones
from dataplatform.resources.aws import AwsClients, AwsRegionMissing
from dataplatform.settings import PROJECT_ROOT

INFRA = PROJECT_ROOT / "platform" / "infrastructure"
TEMPLATE = INFRA / "cloudformation.yaml"
RESOURCES = PROJECT_ROOT / "platform" / "dataplatform" / "resources"
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")  # service:Operation, no wildcard


@cache
def iam_actions() -> dict:
    return yaml.safe_load((INFRA / "iam_actions.yaml").read_text())


@cache
def template() -> dict:
    decoded, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return decoded


def resources_of(kind: str) -> dict[str, dict]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


# --------------------------------------------------------------------------------------------
# The adapters' boto3 calls, derived from their source.
#
# Each adapter holds its client as `self.client`. A call is one of
#   self.client.<method>(...)                 -> method
#   self.client.get_paginator("<op>")         -> op (a paginator is named after its operation)
#   self.client.get_waiter("<waiter>")        -> the operation botocore's waiter model polls
#   self.<dispatch>("<op>", ...)              -> op, where <dispatch> does getattr(self.client, <its first argument>)
# `self.client.exceptions` is not a call. Any other use of `self.client` fails the derivation,
# so a call cannot hide from it.


def _is_client(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute) and node.attr == "client"
        and isinstance(node.value, ast.Name) and node.value.id == "self"
    )


def _literal(call: ast.Call, where: str) -> str:
    assert call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str), (
        f"{where}: the operation is not a string literal: {ast.unparse(call)}"
    )
    return call.args[0].value


def _dispatchers(cls: ast.ClassDef) -> tuple[set[str], set[int]]:
    """Methods that call `getattr(self.client, <first parameter>)`, and the ids of those
    `self.client` nodes."""
    found, nodes = set(), set()
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef) or len(method.args.args) < 2:
            continue
        operation = method.args.args[1].arg
        for node in ast.walk(method):
            if (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and _is_client(node.args[0]) and isinstance(node.args[1], ast.Name) and node.args[1].id == operation
            ):
                found.add(method.name)
                nodes.add(id(node.args[0]))
    return found, nodes


def client_calls(cls: ast.ClassDef, service: str) -> set[str]:
    dispatchers, accounted = _dispatchers(cls)  # accounted: ids of `self.client` nodes the derivation explains
    calls: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and any(_is_client(t) for t in node.targets):
            accounted.update(id(t) for t in node.targets)  # self.client = client
        if isinstance(node, ast.Attribute) and node.attr == "exceptions" and _is_client(node.value):
            accounted.add(id(node.value))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        where = f"{cls.name} line {node.lineno}"
        if isinstance(func, ast.Attribute) and _is_client(func.value):
            accounted.add(id(func.value))
            if func.attr == "get_paginator":
                calls.add(_literal(node, where))
            elif func.attr == "get_waiter":
                waiters = botocore.session.get_session().get_waiter_model(service)
                waiter = {xform_name(name): name for name in waiters.waiter_names}[_literal(node, where)]
                calls.add(xform_name(waiters.get_waiter(waiter).operation))
            else:
                calls.add(func.attr)
        elif (
            isinstance(func, ast.Attribute) and func.attr in dispatchers
            and isinstance(func.value, ast.Name) and func.value.id == "self"
        ):
            calls.add(_literal(node, where))
    stray = [n for n in ast.walk(cls) if _is_client(n) and id(n) not in accounted]
    assert not stray, f"{cls.name}: uses of self.client the derivation does not understand: lines {[n.lineno for n in stray]}"
    return calls


@cache
def adapter_classes() -> dict[str, ast.ClassDef]:
    """Every class in resources/*.py that holds a client (assigns `self.client`)."""
    classes = {}
    for path in sorted(RESOURCES.glob("*.py")):
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(n, ast.Assign) and any(_is_client(t) for t in n.targets) for n in ast.walk(node)
            ):
                assert node.name not in classes, f"{node.name} defined twice"
                classes[node.name] = node
    return classes


def test_every_adapter_holding_a_client_is_declared():
    declared = {spec["adapter"] for spec in iam_actions()["adapters"].values()}
    assert declared == set(adapter_classes())
    # ... and no code uses a client other than through `self.client` (which the derivation reads).
    for path in sorted(RESOURCES.glob("*.py")):
        bare = [
            n.lineno for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "client"
        ]
        assert bare == [], f"{path.name}: `client.<...>` outside an adapter's self.client, lines {bare}"


@pytest.mark.parametrize("service", sorted(yaml.safe_load((INFRA / "iam_actions.yaml").read_text())["adapters"]))
def test_declared_calls_are_exactly_the_adapters_calls(service):
    spec = iam_actions()["adapters"][service]
    called = client_calls(adapter_classes()[spec["adapter"]], service)
    declared = set(spec["calls"])
    assert called - declared == set(), f"{spec['adapter']} calls {service} methods iam_actions.yaml does not declare"
    assert declared - called == set(), f"iam_actions.yaml declares {service} methods {spec['adapter']} no longer calls"
    # The service is the right one: each method exists on a real boto3 client of it.
    client = boto3.session.Session(region_name="us-east-1").client(service)
    assert [m for m in sorted(declared) if not hasattr(client, m)] == []
    for method, actions in spec["calls"].items():
        assert actions and all(ACTION.match(a) for a in actions), (method, actions)


def test_the_derivation_sees_waiters_paginators_and_dispatchers():
    """The derivation itself, on the shapes the adapters use."""
    source = '''
class Adapter:
    def __init__(self, client):
        self.client = client
    def _call(self, operation, **kwargs):
        return getattr(self.client, operation)(**kwargs)
    def run(self):
        self.client.put_item(TableName="t")
        self.client.get_paginator("scan").paginate()
        self.client.get_waiter("table_exists").wait(TableName="t")
        self._call("get_item", TableName="t")
        try:
            pass
        except self.client.exceptions.ResourceNotFoundException:
            pass
'''
    cls = ast.parse(source).body[0]
    assert client_calls(cls, "dynamodb") == {"put_item", "scan", "describe_table", "get_item"}
    for hidden in ("helper(self.client)", "getattr(self.client, 'scan')()", "self.client.meta.events"):
        cls = ast.parse(f"class A:\n    def f(self, op):\n        {hidden}\n").body[0]
        with pytest.raises(AssertionError, match="does not understand"):
            client_calls(cls, "dynamodb")


# --------------------------------------------------------------------------------------------
# The template's IAM


def section_actions(section: str) -> set[str]:
    table = iam_actions()
    if section == "adapters":
        services = {name: spec["calls"] for name, spec in table["adapters"].items()}
    else:
        services = table["libraries"][section]
    return {action for calls in services.values() for actions in calls.values() for action in actions}


def statements(node) -> list[dict]:
    """Every policy statement anywhere under `node` (role policies, key and bucket policies)."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("Statement"), list):
            found += [s for s in node["Statement"] if isinstance(s, dict)]
        for value in node.values():
            found += statements(value)
    elif isinstance(node, list):
        for value in node:
            found += statements(value)
    return found


def as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def test_each_role_grants_exactly_its_sections():
    roles = iam_actions()["roles"]
    template_roles = resources_of("AWS::IAM::Role")
    assert set(template_roles) == set(roles)
    # Grants come only from the roles' inline policies.
    assert not resources_of("AWS::IAM::Policy") and not resources_of("AWS::IAM::ManagedPolicy")
    for name, sections in roles.items():
        properties = template_roles[name]["Properties"]
        assert "ManagedPolicyArns" not in properties, name
        granted = set()
        for policy in properties["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow" and "NotAction" not in statement, (name, statement)
                granted |= set(as_list(statement["Action"]))
        expected = set().union(*(section_actions(s) for s in sections))
        assert granted - expected == set(), f"{name} grants more than {sections}"
        assert expected - granted == set(), f"{name} lacks actions of {sections}"
        assert as_list(properties["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]) == [
            "ecs-tasks.amazonaws.com"
        ]


def test_no_wildcard_actions_are_granted():
    """No Allow statement anywhere (roles, key policy, bucket policy) names `*`, `service:*` or
    `Get*`. A Deny may: the landing bucket's deny of insecure transport covers every s3 action."""
    found = statements(template()["Resources"])
    assert len(found) > 20
    for statement in found:
        assert "NotAction" not in statement and "NotPrincipal" not in statement, statement
        actions = as_list(statement["Action"])
        if statement["Effect"] == "Deny":
            continue
        assert statement["Effect"] == "Allow", statement
        assert [a for a in actions if not ACTION.match(a)] == [], statement.get("Sid")


# --------------------------------------------------------------------------------------------
# Buckets


def bucket_names() -> dict[str, str]:
    """Logical bucket name (the one the lake port uses) -> resource name."""
    names = {}
    for resource, bucket in resources_of("AWS::S3::Bucket").items():
        sub = bucket["Properties"]["BucketName"]["Fn::Sub"]
        assert isinstance(sub, str) and sub.startswith("${BucketPrefix}"), resource
        names[sub.removeprefix("${BucketPrefix}")] = resource
    return names


def test_bucket_names_carry_the_bucket_prefix_parameter():
    assert template()["Parameters"]["BucketPrefix"]["Type"] == "String"
    assert {"landing", "raw", "restricted", "quarantine", "curated", "athena-results", "compute-logs"} == set(bucket_names())


def test_databases_streams_and_tables_carry_the_deployment_namespace():
    """What a deployment owns is named with its prefix, as the ports name it (dataplatform.deployment)."""
    from dataplatform.landing_zones import zones
    from dataplatform.streams import streams

    databases = {r["Properties"]["DatabaseInput"]["Name"]["Fn::Sub"] for r in resources_of("AWS::Glue::Database").values()}
    assert all(name.startswith("${SchemaPrefix}") for name in databases)
    raw = {database for zone in zones().values() for database, _ in zone.raw_tables}
    assert {f"${{SchemaPrefix}}{database}" for database in raw} <= databases
    names = {r["Properties"]["Name"]["Fn::Sub"] for r in resources_of("AWS::Kinesis::Stream").values()}
    assert names == {f"${{BucketPrefix}}{stream}" for stream in streams()}
    tables = [r["Properties"]["TableName"] for r in resources_of("AWS::DynamoDB::Table").values()]
    assert tables and all(t["Fn::Sub"].startswith("${BucketPrefix}") for t in tables)


@pytest.mark.parametrize("resource", sorted(resources_of("AWS::S3::Bucket")))
def test_buckets_are_kms_encrypted_and_private(resource):
    properties = template()["Resources"][resource]["Properties"]
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # Identifiers as delivered sit under the personal-data key: access to them is granted on its own.
    key = "PersonalDataKey" if resource == bucket_names()["restricted"] else "DataKey"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key, "Arn"]}
    assert template()["Resources"][key]["Type"] == "AWS::KMS::Key"
    block = properties["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


def expirations(logical_bucket: str) -> dict[str, int]:
    """Prefix -> ExpirationInDays of a bucket's enabled lifecycle rules that expire a prefix."""
    properties = template()["Resources"][bucket_names()[logical_bucket]]["Properties"]
    rules = properties["LifecycleConfiguration"]["Rules"]
    return {
        r["Prefix"]: r["ExpirationInDays"] for r in rules if r["Status"] == "Enabled" and "ExpirationInDays" in r and "Prefix" in r
    }


def test_lifecycle_rules_follow_the_landing_zones_retention():
    """Landing and quarantine expire each zone's prefix, raw each raw table's prefix
    (`<domain>/<table>/`, as raw_logs.py places them), after the zone's retention_days."""
    expected: dict[str, dict[str, int]] = {"landing": {}, "quarantine": {}, "raw": {}, "restricted": {}}
    for zone in zones().values():
        days = zone.retention.days
        assert zone.retention.total_seconds() == days * 86400
        expected[zone.bucket][zone.prefix] = days
        expected["quarantine"][zone.prefix] = days
        for _database, table in zone.raw_tables:
            expected[zone.raw_bucket][f"{zone.domain}/{table}/"] = days
    assert expected["raw"] and expected["landing"] and expected["restricted"]
    for bucket, rules in expected.items():
        assert expirations(bucket) == rules, bucket


def test_each_landing_zone_announces_created_objects_on_its_own_queue():
    """One queue per zone with arrival events, named as SqsArrivalQueues names it, fed by the landing bucket for the
    zone's prefix only, and allowed to receive from that bucket alone."""
    from dataplatform.resources.arrivals import SqsArrivalQueues

    resources = template()["Resources"]
    queues = {name: spec for name, spec in resources.items() if spec["Type"] == "AWS::SQS::Queue"}
    by_name = {spec["Properties"]["QueueName"]["Fn::Sub"]: name for name, spec in queues.items()}
    names = SqsArrivalQueues(client=None, queue_prefix="${BucketPrefix}")
    announced = [zone for zone in zones().values() if zone.arrival_events]
    expected = {zone.prefix: by_name[names.queue_name(zone.name)] for zone in announced}
    assert set(by_name.values()) == set(expected.values())
    for zone in announced:
        assert queues[expected[zone.prefix]]["Properties"]["VisibilityTimeout"] > 60  # past the next tick
    notifications = resources[bucket_names()["landing"]]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert {
        n["Filter"]["S3Key"]["Rules"][0]["Value"]: n["Queue"]["Fn::GetAtt"][0] for n in notifications
        if n["Event"] == "s3:ObjectCreated:*"
    } == expected
    [policy] = [spec for spec in resources.values() if spec["Type"] == "AWS::SQS::QueuePolicy"]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":s3:::${BucketPrefix}landing")


# --------------------------------------------------------------------------------------------
# cfn-lint


def test_template_lints_clean():
    """cfn-lint 1.58.0, errors, warnings and informational checks (e.g. YAML aliases, which
    CloudFormation rejects; DeletionPolicy of stateful resources)."""
    matches = lint_file(Path(TEMPLATE), config=ManualArgs(include_checks=["I"]))
    assert [f"{m.rule.id} {m.linenumber}: {m.message}" for m in matches] == []


def test_cfn_lint_reports_an_error_for_a_broken_template(tmp_path):
    """The lint is live: a template with an unknown property fails it."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("- BucketKeyEnabled: true", "- BucketKeyEnabld: true", 1))
    assert any(m.rule.id.startswith("E") for m in lint_file(broken))


# --------------------------------------------------------------------------------------------
# The production instance (dagster.aws.yaml)

INSTANCE_ENV = {
    "DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_PORT": "5432", "DAGSTER_COMPUTE_LOG_BUCKET": "dp-compute-logs",
    "AWS_REGION": "eu-west-1", "DAGSTER_RUN_TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/run",
    "DAGSTER_RUN_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/exec", "DAGSTER_RUN_LOG_GROUP": "/dp/dagster",
    "DAGSTER_PG_PASSWORD_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pg",
}


@pytest.fixture
def instance_yaml(monkeypatch) -> dict:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    return yaml.safe_load((INFRA / "dagster.aws.yaml").read_text())


def validate_with_schema_of(cls, config) -> None:
    """Validate `config` against the class's own config schema (its public `config_type()`),
    through Dagster's public run config validation of an op carrying that schema."""

    @dg.op(config_schema=cls.config_type())
    def component():
        pass

    @dg.job
    def check():
        component()

    dg.validate_run_config(check, {"ops": {"component": {"config": config}}})


def configured_class(section: dict):
    return getattr(importlib.import_module(section["module"]), section["class"])


def test_instance_components_and_writer_limit(instance_yaml):
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    assert set(instance_yaml["storage"]) == {"postgres"}
    # psycopg2, which dagster-postgres' SQL needs (a bare postgresql:// is psycopg 3 in SQLAlchemy 2.1)
    assert instance_yaml["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert configured_class(instance_yaml["compute_logs"]) is S3ComputeLogManager
    assert configured_class(instance_yaml["run_launcher"]) is EcsRunLauncher
    assert configured_class(instance_yaml["run_coordinator"]) is dg.QueuedRunCoordinator
    limits = instance_yaml["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": "dataplatform/writer", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert "dataplatform/writer" in instance_yaml["run_launcher"]["config"]["propagate_tags"]["allow_list"]


def test_instance_components_validate_against_their_schemas(instance_yaml):
    from dagster_postgres import DagsterPostgresStorage

    validate_with_schema_of(DagsterPostgresStorage, instance_yaml["storage"]["postgres"])
    for section in ("compute_logs", "run_launcher", "run_coordinator"):
        validate_with_schema_of(configured_class(instance_yaml[section]), instance_yaml[section]["config"])


def test_schema_validation_rejects_a_misspelt_setting(instance_yaml):
    config = {**instance_yaml["run_coordinator"]["config"], "max_concurent_runs": 1}
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurent_runs"):
        validate_with_schema_of(dg.QueuedRunCoordinator, config)


def test_run_tasks_get_the_env_the_instance_reads(instance_yaml):
    """Every env var the instance reads is set on the run tasks (env_vars/secrets) or by ECS."""
    text = (INFRA / "dagster.aws.yaml").read_text()
    read = set(re.findall(r"\{env: ([A-Z0-9_]+)\}", text))
    launcher = instance_yaml["run_launcher"]["config"]
    passed = set(launcher["env_vars"]) | {s["name"] for s in launcher["secrets"]}
    set_by_the_daemon = {"DAGSTER_RUN_TASK_ROLE_ARN", "DAGSTER_RUN_EXECUTION_ROLE_ARN", "DAGSTER_RUN_LOG_GROUP",
                         "DAGSTER_PG_PASSWORD_SECRET_ARN"}  # read by the launcher in the daemon only
    assert read - set_by_the_daemon <= passed
    assert set(INSTANCE_ENV) == read


# --------------------------------------------------------------------------------------------
# AwsClients: the region


@pytest.fixture
def no_aws_env(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def test_region_from_aws_region_alone(no_aws_env):
    aws = AwsClients.from_env({"AWS_REGION": "eu-west-1"})
    assert aws.region_name == "eu-west-1"
    assert aws.client("s3").meta.region_name == "eu-west-1"


def test_aws_region_wins_over_aws_default_region(no_aws_env):
    aws = AwsClients.from_env({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"})
    assert aws.client("glue").meta.region_name == "eu-west-1"


def test_region_falls_back_to_aws_default_region(no_aws_env):
    assert AwsClients.from_env({"AWS_DEFAULT_REGION": "us-east-2"}).client("sns").meta.region_name == "us-east-2"


def test_unconfigured_resource_reads_the_process_environment(no_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert AwsClients().resolved_region() == "ap-southeast-2"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert AwsClients().client("kinesis").meta.region_name == "ca-central-1"


def test_no_region_anywhere_is_a_clear_error(no_aws_env):
    aws = AwsClients.from_env({})
    with pytest.raises(AwsRegionMissing, match="AWS_REGION, AWS_DEFAULT_REGION"):
        aws.client("s3")
    with pytest.raises(AwsRegionMissing, match="region_name on the `aws` resource"):
        aws.resolved_region()
