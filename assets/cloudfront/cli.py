"""CloudFront's command-line hooks: `dataplatform sample cloudfront`, `dataplatform produce
cloudfront-realtime` and its headline KPIs in `dataplatform summary`."""

from __future__ import annotations

from dataplatform import settings
from dataplatform.domains import Sample, Stream, Warehouse


def _options(group) -> None:
    group.add_argument("--files", type=int, default=3, help="cloudfront: files per distribution and hour")
    group.add_argument("--distributions", type=int, default=3, help="cloudfront: distributions")


def _write(lake, args, progress) -> tuple[list, str]:
    from assets.cloudfront import sample

    spec = sample.SampleSpec(start=args.start, hours=args.hours, lines=args.lines, files_per_hour=args.files,
                             distributions=args.distributions, seed=args.seed, late_files=args.late_files)
    return sample.generate(lake, spec, progress=progress), lake.uri("landing", spec.prefix)


def _records(args, start):
    from assets.cloudfront.realtime_sample import RealtimeSpec, records

    return records(RealtimeSpec(start=start, seconds=args.seconds, rate=args.rate, seed=args.seed,
                                duplicate_share=args.duplicates, late_share=args.late))


SAMPLES = {"cloudfront": Sample(help="CloudFront standard access logs (hourly gzip files)", add_options=_options,
                                write=_write)}
STREAMS = {"cloudfront-realtime": Stream(stream="cloudfront_realtime", records=_records,
                                          demo=dict(rate=50, seconds=300, duplicates=0.02, late=0.02))}

KPIS = {
    "cloudfront requests": "select sum(requests) from marts.cloudfront_bandwidth_by_edge",
    "bytes served (GB)": "select round(sum(bytes_sent) / 1e9, 3) from marts.cloudfront_bandwidth_by_edge",
    "bot share of requests": "select round(100.0 * (select sum(requests) from marts.cloudfront_bot_traffic) "
    "/ sum(requests), 1) || ' %' from marts.cloudfront_bandwidth_by_edge",
    "busiest bot": "select bot_name || ' (' || sum(requests) || ' requests)' from marts.cloudfront_bot_traffic "
    "group by bot_name order by sum(requests) desc limit 1",
    "peak edge bandwidth": "select edge_location || ' ' || round(max(avg_bandwidth_bps) / 1e6, 2) || ' Mbit/s' "
    "from marts.cloudfront_bandwidth_by_edge group by edge_location order by max(avg_bandwidth_bps) desc limit 1",
    "cache hit ratio": "select round(100.0 * sum(cache_hit_ratio * requests) / sum(requests), 1) || ' %' "
    "from marts.cloudfront_bandwidth_by_edge",
    "real-time peak bandwidth (1-minute window)": "select distribution || ' @ ' || edge_location || ' ' || "
    "round(bandwidth_bps / 1e6, 2) || ' Mbit/s' from marts.cloudfront_realtime_bandwidth "
    "where window_type = 'tumbling_1m' order by bandwidth_bps desc limit 1",
    "real-time bot share (5-minute windows)": "select round(100.0 * sum(bot_requests) / sum(requests), 1) || ' %' "
    "from marts.cloudfront_realtime_bandwidth where window_type = 'sliding_5m'",
    "real-time late records (not in windows)": "select sum(late_records) from marts.cloudfront_realtime_late_records",
}
WAREHOUSES = [Warehouse(path=settings.warehouse_path, schemas=("staging", "intermediate", "marts"), kpis=KPIS)]
