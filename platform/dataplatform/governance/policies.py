"""Read the declarative policies and turn them into asset attributes.

Every asset gets its owners, group (= domain), kinds, description and the classification
of each of its columns from here, so reviewing policy files reviews the whole graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import dagster as dg
import yaml

from dataplatform.settings import POLICIES_DIR

CLASSIFICATION_TAG = "dataplatform/classification"


@cache
def load(name: str) -> dict:
    with (POLICIES_DIR / f"{name}.yaml").open() as handle:
        return yaml.safe_load(handle)


def domain(name: str) -> dict:
    domains = load("domains")["domains"]
    if name not in domains:
        raise KeyError(f"domain {name!r} is not declared in platform/policies/domains.yaml")
    return domains[name]


def classify(domain_name: str, column: str) -> str:
    policy = load("classification")
    return policy["columns"].get(domain_name, {}).get(column, policy["default"])


def most_sensitive(levels: Iterable[str]) -> str:
    order = load("classification")["levels"]
    return max(levels, key=order.index, default=load("classification")["default"])


def column_schema(domain_name: str, columns: Sequence[tuple]) -> dg.TableSchema:
    """(name, type, description[, tags]) -> a TableSchema whose columns carry their classification:
    from classification.yaml, unless the column's own tags (from a domain's policy) give it."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                column_type,
                description=description or None,
                tags={CLASSIFICATION_TAG: classify(domain_name, name), **(tags[0] if tags else {})},
            )
            for name, column_type, description, *tags in columns
        ]
    )


def asset_tags(schema: dg.TableSchema) -> dict[str, str]:
    """Asset-level tags: the most sensitive class of its columns, and a tag for personal data."""
    levels = [c.tags.get(CLASSIFICATION_TAG, "") for c in schema.columns]
    tags = {CLASSIFICATION_TAG: most_sensitive(l for l in levels if l)}
    if "personal" in levels or "restricted" in levels:
        tags["dataplatform/contains_personal_data"] = "true"
    return tags


def zone_kinds(key: dg.AssetKey) -> set[str]:
    return set(load("datasets")["zone_kinds"][key.path[0]])


def dataset(key: dg.AssetKey) -> dict:
    datasets = load("datasets")["datasets"]
    name = "/".join(key.path)
    if name not in datasets:
        raise KeyError(f"dataset {name} is not declared in platform/policies/datasets.yaml")
    return datasets[name]


def governed_spec(spec: dg.AssetSpec, domain_name: str, columns: Sequence[tuple]) -> dg.AssetSpec:
    """Apply owners, group, kinds, column schema and classification tags to an AssetSpec."""
    schema = column_schema(domain_name, columns)
    return spec.replace_attributes(
        owners=domain(domain_name)["owners"],
        group_name=domain_name,
        kinds=zone_kinds(spec.key) | set(spec.kinds or ()),
        tags={**spec.tags, **asset_tags(schema)},
    ).merge_attributes(metadata={"dagster/column_schema": schema})


def python_asset_spec(key: Sequence[str], domain_name: str, columns: Sequence[tuple], **kwargs) -> dg.AssetSpec:
    """A governed AssetSpec for a Python-produced dataset declared in datasets.yaml."""
    asset_key = dg.AssetKey(list(key))
    description = " ".join(dataset(asset_key)["description"].split())
    return governed_spec(dg.AssetSpec(asset_key, description=description, **kwargs), domain_name, columns)
