"""The scheduled retention job drops expired raw partitions from catalog and storage, lists
them without deleting in a dry run, and has nothing left to do when run again."""

from datetime import datetime, timedelta, timezone

import dagster as dg

from assets.vpc_flow import assets as vpc_flow
from assets.vpc_flow import sample
from dataplatform import environments, settings
from dataplatform.retention import partition_retention


def test_retention_job_drops_expired_partitions(home):
    ports = environments.ports()
    old = (datetime.now(timezone.utc) - timedelta(days=120)).replace(minute=0, second=0, microsecond=0)
    recent = old + timedelta(days=100)
    for start in (old, recent):
        sample.generate(ports["lake"], sample.SampleSpec(start=start, hours=1, records=300, accounts=1, seed=3))
    with dg.instance_for_test() as instance:
        for hour in (old, recent):
            result = dg.materialize(
                [vpc_flow.landing_flow_logs, vpc_flow.vpc_flow_raw],
                partition_key=hour.strftime("%Y-%m-%d-%H:%M"),
                resources={"lake": ports["lake"], "catalog": ports["catalog"]},
                instance=instance,
                selection=[vpc_flow.vpc_flow_raw],
            )
            assert result.success
        catalog = ports["catalog"]
        partitions = lambda: catalog.list_partitions("raw_vpc_flow", "flow_logs")  # noqa: E731
        files = lambda: sorted(p.relative_to(settings.lake_root()) for p in (settings.lake_root() / "raw" / "vpc_flow").rglob("*.parquet"))  # noqa: E731
        before = files()
        assert len(partitions()) == 2 and len(before) == 4  # data + rejects for two hours

        def run(dry_run: bool) -> list[str]:
            result = partition_retention.execute_in_process(
                run_config={"ops": {"drop_expired_partitions": {"config": {"dry_run": dry_run}}}},
                resources={"lake": ports["lake"], "catalog": ports["catalog"]},
                instance=instance,
            )
            assert result.success
            return [e.message for e in instance.all_logs(result.run_id) if "drop" in (e.message or "")]

        planned = run(dry_run=True)
        assert partitions() != [] and files() == before
        assert sum("would drop raw_vpc_flow" in m for m in planned) == 2  # flow_logs + flow_log_rejects

        dropped = run(dry_run=False)
        old_dt = old.strftime("%Y-%m-%d")
        assert any(f"dropped raw_vpc_flow.flow_logs partition {old_dt}/{old:%H}" in m for m in dropped)
        assert partitions() == [(recent.strftime("%Y-%m-%d"), recent.strftime("%H"))]
        assert files() == [f for f in before if f"dt={old_dt}" not in str(f)]

        again = run(dry_run=False)
        assert any("dropped 0 partitions" in m for m in again)
