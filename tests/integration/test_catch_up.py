"""catch-up keeps a sensor's cursor until its runs succeed, so a failed range is retried."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from assets.cloudfront import sample
from dataplatform import settings
from dataplatform.catchup import CursorStore, catch_up
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.resources.lake import LocalObjectStore


class FlakyCatalog(LocalCatalog):
    """Refuses partition registration while `broken` is set (e.g. Glue throttling)."""

    broken = True

    def register_partitions(self, database, name, partitions):
        if self.broken:
            raise RuntimeError("catalog unavailable")
        return super().register_partitions(database, name, partitions)


@pytest.mark.slow
def test_failed_range_is_retried_by_the_next_catch_up(home):
    from dataplatform.definitions import build_definitions

    sample.generate(
        LocalObjectStore(settings.lake_root()),
        sample.SampleSpec(start=datetime(2026, 11, 24, tzinfo=timezone.utc), hours=2, lines=400, distributions=1, files_per_hour=1),
    )
    catalog = FlakyCatalog(settings.catalog_path())
    base = build_definitions()
    defs = dg.Definitions(assets=base.assets, sensors=base.sensors, resources={**base.resources, "catalog": catalog})
    cursors = CursorStore(home / "cursors.json")
    with dg.instance_for_test() as instance:
        failed = catch_up(defs, instance, cursors)
        assert (failed.runs, len(failed.failed_runs), failed.dbt_invocations) == (1, 1, 0)
        assert cursors.get("cloudfront_arrivals") is None  # nothing acknowledged

        catalog.broken = False
        retried = catch_up(defs, instance, cursors)
        # + the RPO sensor's first warehouse snapshot once the refresh has built the warehouse.
        assert (retried.runs, retried.failed_runs, retried.partitions, retried.dbt_invocations) == (3, [], 2, 1)
        assert cursors.get("cloudfront_arrivals") is not None
        assert catalog.list_partitions("raw_cloudfront", "access_logs") == [("2026-11-24", "00"), ("2026-11-24", "01")]

        assert catch_up(defs, instance, cursors).runs == 0
