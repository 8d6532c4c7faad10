"""Streams, read from platform/policies/streams.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import dagster as dg

from dataplatform.governance.policies import load


@dataclass(frozen=True)
class StreamPolicy:
    name: str
    domain: str
    target: str  # asset key the stream's ranges materialise
    shards: int
    max_records_per_range: int
    allowed_lateness_seconds: int

    @property
    def asset_keys(self) -> list[dg.AssetKey]:
        """The stream's raw asset and its rejects, materialised together by each range run."""
        key = dg.AssetKey.from_user_string(self.target)
        return [key, dg.AssetKey([*key.path[:-1], f"{key.path[-1]}_rejects"])]


@cache
def streams() -> dict[str, StreamPolicy]:
    return {
        name: StreamPolicy(
            name=name,
            domain=spec["domain"],
            target=spec["target"],
            shards=spec["shards"],
            max_records_per_range=spec["max_records_per_range"],
            allowed_lateness_seconds=spec["allowed_lateness_seconds"],
        )
        for name, spec in load("streams")["streams"].items()
    }
