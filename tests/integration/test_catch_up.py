"""catch-up keeps a sensor's cursor until its runs succeed, so a failed range is retried."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from assets.cloudfront import sample
from dataplatform import settings
from dataplatform.catchup import InstanceCursors, catch_up
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.resources.lake import LocalObjectStore


RAW = dg.AssetKey(["raw", "cloudfront", "access_logs"])
MART = dg.AssetKey(["marts", "cloudfront_top_viewers"])


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
    with dg.instance_for_test() as instance:
        cursors = InstanceCursors(instance)
        failed = catch_up(defs, instance)
        # The raw range failed; automation still built what needs no delivery (reference seeds).
        # One attempt: not retried within the catch-up, though the reconciliation asked again.
        assert len(failed.failed_runs) == 1 and failed.partitions == 0
        assert MART not in failed.materialized and RAW not in failed.materialized

        catalog.broken = False
        retried = catch_up(defs, instance)
        assert (retried.failed_runs, retried.partitions, retried.dbt_invocations) == ([], 2, 1)
        assert {RAW, MART} <= retried.materialized
        # The retry is the reconciliation's, under the failed run's key + `#2`.
        [retry] = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "cloudfront_reconciliation"}))
        assert retry.tags["dagster/run_key"].endswith("#2") and retry.status == dg.DagsterRunStatus.SUCCESS
        assert cursors.get("cloudfront_arrivals") is not None
        assert catalog.list_partitions("raw_cloudfront", "access_logs") == [("2026-11-24", "00"), ("2026-11-24", "01")]

        assert catch_up(defs, instance).runs == 0
