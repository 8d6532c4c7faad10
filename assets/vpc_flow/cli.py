"""VPC Flow Logs' command-line hooks: `dataplatform sample vpcflowlogs` and its summary KPIs."""

from __future__ import annotations

from dataplatform import settings
from dataplatform.domains import Sample, Warehouse


def _options(group) -> None:
    group.add_argument("--accounts", type=int, default=2, help="vpcflowlogs: AWS accounts")
    group.add_argument("--interval", type=int, choices=(1, 10), default=10, help="vpcflowlogs: aggregation minutes")


def _write(lake, args, progress) -> tuple[list, str]:
    from assets.vpc_flow import sample

    spec = sample.SampleSpec(start=args.start, hours=args.hours, records=args.lines, accounts=args.accounts,
                             interval_minutes=args.interval, seed=args.seed, late_files=args.late_files)
    return sample.generate(lake, spec, progress=progress), lake.uri("landing", spec.prefix)


SAMPLES = {"vpcflowlogs": Sample(help="VPC Flow Logs (gzip files per account, region and interval)",
                                 add_options=_options, write=_write)}

KPIS = {
    "vpc traffic (GB)": "select round(sum(bytes_transferred) / 1e9, 3) from marts.vpc_top_talkers_by_port",
    "vpc top talker": "select src_addr || ' -> ' || dst_addr || ' (' || round(bytes_transferred / 1e9, 2) || ' GB)' "
    "from marts.vpc_top_talkers order by bytes_transferred desc limit 1",
    "vpc rejected flow records": "select sum(rejected_flow_records) from marts.vpc_rejected_traffic",
    "vpc most rejected port": "select dst_port || ' (' || sum(rejected_flow_records) || ' records)' "
    "from marts.vpc_rejected_traffic group by dst_port order by sum(rejected_flow_records) desc limit 1",
    "vpc flow-log capture ratio": "select round(100.0 * sum(records - skipdata_records) / sum(records), 2) || ' %' "
    "from marts.vpc_flow_log_coverage",
}
WAREHOUSES = [Warehouse(path=settings.warehouse_path, schemas=("staging", "intermediate", "marts"), kpis=KPIS)]
