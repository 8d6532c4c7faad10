"""Synthetic VPC Flow Logs deliveries to S3, for tests, demos and benchmarks.

`generate(store, SampleSpec(...))` writes gzip files named like real deliveries
(`<prefix>AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/<account>_vpcflowlogs_<region>_
<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz`) into the landing bucket.

Topology: `accounts` accounts (12-digit ids, the first with a leading zero), each with 1-2
regions of 1-2 VPCs; a VPC has one flow log (fl-...) covering its ENIs: web instances in
public subnets (dual stack), app instances and databases (RDS/ElastiCache, no instance id) in
private subnets, NAT gateways and a few idle ENIs that only log NODATA. Each flow log delivers
a file every 5 minutes (stamps :00, :05, ... :55), so an hour has 12 files per flow log; a
file holds the records whose capture window closed in the 5 minutes before its stamp, so a
record's `end` is in [stamp - 300 s, stamp) and its `start` up to the aggregation interval
earlier (`interval_minutes`, 10 or 1). Records are in no particular order.

Traffic, per flow log: internet clients (Zipf-weighted; IPv6 for `ipv6_share` of client
flows; some are CloudFront edges) to the web tier on 443/80 and the responses back to their
ephemeral ports; web -> app (8080, 9090); app -> databases (5432, 3306, 6379); app egress
through the NAT gateway (HTTPS to AWS APIs and the internet, NTP and DNS over UDP; on the NAT
ENI `srcaddr`/`dstaddr` are the gateway's and `pkt-srcaddr`/`pkt-dstaddr` the instance's);
heavy hitters (a backup job streaming to S3 through the gateway endpoint, database
replication); port scanners and misconfigured clients retrying closed ports (REJECT); ICMP
pings (ICMPv6, protocol 58, over IPv6). About 10 % of records are REJECT, about 1.8 % NODATA
or SKIPDATA. packets and bytes are heavy-tailed with 40 <= bytes/packets <= 9001.

Formats: a `custom_share` of the flow logs (so about that share of the files) use a custom
format: the 13 fields the marts need (all of v2 but `version`), `version` for some, and
several fields of versions 3 up to 3, 4 or 5, shuffled; `version` is the highest version listed.
The others use the default 14 v2 fields.

Lines are split over files by a diurnal curve, a per-flow-log share and per-file jitter, so the
total is exactly `spec.records` (files that would be empty are not written). Memory stays at a
couple of files; records are assembled from precomputed pools (~300k records/s before
compression, which a worker thread does while the next file is rendered).

Determinism: everything comes from `random.Random` instances seeded from `spec.seed` and gzip
is written with mtime=0, so one spec gives byte-identical keys and files (for a given Python
version).
"""

from __future__ import annotations

import gzip
import ipaddress
import random
from bisect import bisect
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate
from math import log
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from dataplatform.sampling import DIURNAL, ISP_V4, ISP_V6, split_exactly
from assets.vpc_flow.format import (
    ALL_FIELDS,
    FIELD_VERSION,
    FIELDS_V2,
    REQUIRED_FIELDS,
    V3_FIELDS,
    V4_FIELDS,
    V5_FIELDS,
    object_name,
)

if TYPE_CHECKING:  # only for annotations: keeps `assets` importable without the platform package
    from dataplatform.resources.lake import ObjectInfo, ObjectStore


@dataclass(frozen=True)
class SampleSpec:
    start: datetime  # first UTC hour (tz-aware, on a whole hour)
    hours: int = 24
    records: int = 50_000  # data lines across all files, exactly (NODATA/SKIPDATA included)
    accounts: int = 2
    seed: int = 7
    interval_minutes: int = 10  # aggregation interval: 10 (default) or 1
    custom_share: float = 0.3  # share of flow logs (so of files) in a custom format
    ipv6_share: float = 0.1  # share of internet-client flows over IPv6
    late_files: int = 0  # extra files for earlier hours of the window, written last
    prefix: str = "vpcflowlogs/"


DELIVERY_SECONDS = 300  # a file every 5 minutes per flow log
# Region -> (AZ id prefix, AZ numbers, Amazon IPv6 /32 for VPCs there).
REGIONS = {
    "us-east-1": ("use1", (1, 2, 3, 4, 5, 6), 0x26001F18),
    "us-west-2": ("usw2", (1, 2, 3, 4), 0x26001F14),
    "eu-west-1": ("euw1", (1, 2, 3), 0x2A05D018),
    "eu-central-1": ("euc1", (1, 2, 3), 0x2A05D014),
    "ap-southeast-2": ("apse2", (1, 2, 3), 0x2406DA1C),
    "ap-northeast-1": ("apne1", (1, 2, 4), 0x2406DA14),
}
CLOUDFRONT_V4 = ("130.176.0.0/17", "64.252.64.0/18", "15.158.0.0/16")
SCANNER_V4 = ("162.142.125.0/24", "167.94.138.0/24", "89.248.160.0/21", "193.163.125.0/24", "198.235.24.0/24",
              "45.129.33.0/24", "185.224.128.0/24", "71.6.199.0/24", "194.26.29.0/24", "80.82.77.0/24")
MONITORS_V4 = ("3.105.190.0/24", "52.63.26.0/24", "185.180.12.0/24", "69.162.124.0/24")
# Destinations apps reach through the NAT gateway: (networks, port, protocol, aws service, pools, weight).
NAT_DESTINATIONS = (
    (("52.94.0.0/22", "54.239.0.0/22", "52.119.160.0/20"), "443", "6", "AMAZON", ("nat_req", "nat_resp"), 30),
    (("3.5.0.0/19", "52.216.0.0/15"), "443", "6", "S3", ("nat_req", "nat_resp"), 10),
    (("140.82.112.0/20",), "443", "6", "-", ("nat_req", "nat_resp"), 8),
    (("151.101.0.0/16", "104.16.0.0/13"), "443", "6", "-", ("nat_req", "nat_resp"), 14),
    (("34.120.0.0/14", "20.42.0.0/16"), "443", "6", "-", ("nat_req", "nat_resp"), 10),
    (("162.159.200.123/32", "129.6.15.28/32", "216.239.35.0/30"), "123", "17", "-", ("ntp", "ntp"), 8),
    (("8.8.8.8/32", "8.8.4.4/32", "1.1.1.1/32", "9.9.9.9/32"), "53", "17", "-", ("dns_req", "dns_resp"), 20),
)
S3_V4 = ("52.216.0.0/15", "3.5.0.0/19")
DB_PORTS = ("5432", "3306", "6379")
CLOSED_PORTS = ("22", "3389", "23", "445")
SCAN_PORTS = {"22": 20, "23": 8, "80": 6, "443": 6, "445": 8, "1433": 4, "3306": 5, "3389": 12, "5432": 4,
              "5900": 4, "6379": 4, "8080": 6, "8443": 3, "9200": 3, "27017": 3, "2375": 2, "11211": 2}
SCAN_UDP_PORTS = ("53", "123", "161", "1900", "5060", "11211")
TCP_REQUEST_FLAGS = {"3": 45, "2": 20, "0": 20, "1": 9, "4": 4, "7": 2}  # FIN 1, SYN 2, RST 4, OR-ed
TCP_RESPONSE_FLAGS = {"19": 45, "18": 20, "0": 20, "1": 9, "4": 4, "23": 2}  # SYN-ACK 18
# Kinds of records and their relative weights (per 1000 lines).
KINDS = {"web": 410, "web_app": 160, "app_db": 130, "nat": 115, "icmp": 25, "scan": 45, "retry": 30,
         "heavy": 7, "nodata": 15, "skipdata": 3}
POOL = 2048  # entries per packets/bytes and duration pool
PORTS = tuple(str(p) for p in range(65536))
EPHEMERAL = 65536 - 1024
# Index of each field in the tuple a record is assembled in: dynamic values, then the ENI's.
_DYNAMIC = ("srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags type "
            "pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path").split()
_STATIC = ("version account-id interface-id vpc-id subnet-id instance-id region az-id sublocation-type "
           "sublocation-id").split()
_INDEX = {field: i for i, field in enumerate(_DYNAMIC + _STATIC)}
assert sorted(_INDEX) == sorted(ALL_FIELDS)
_NO_DATA = ("-",) * 7  # srcaddr dstaddr srcport dstport protocol packets bytes
_NO_PACKET = ("-",) * 8  # tcp-flags type pkt-srcaddr pkt-dstaddr pkt-src/dst-aws-service flow-direction traffic-path


def render_file(records: Sequence[dict], fields: Sequence[str]) -> bytes:
    """Uncompressed file text: the header line, then one line per record ('-' for missing or empty)."""
    lines = [" ".join(fields) + "\n"]
    for record in records:
        values = ["-" if (v := record.get(field)) is None or v == "" else str(v) for field in fields]
        if any(" " in v or "\n" in v for v in values):
            raise ValueError(f"values must not contain spaces or newlines: {values}")
        lines.append(" ".join(values) + "\n")
    return "".join(lines).encode("utf-8")


def _hex(rng: random.Random, prefix: str) -> str:
    """AWS resource ids: `eni-`, `vpc-`, `subnet-`, `i-`, `fl-` and 17 hex digits."""
    return f"{prefix}{rng.getrandbits(68):017x}"


def _in(rng: random.Random, network: str) -> str:
    net = ipaddress.ip_network(network)
    if net.num_addresses <= 4:
        return str(net[rng.randrange(net.num_addresses)])
    return str(net[rng.randrange(1, net.num_addresses - 1)])


def _table(weights: dict, size: int = 1000) -> list:
    """Weighted choices as a flat list, so a pick is one index: `table[int(random() * len)]`."""
    total = sum(weights.values())
    return [item for item, weight in weights.items() for _ in range(max(1, round(size * weight / total)))]


def _zipf(n: int, s: float) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


class _Eni(NamedTuple):
    id: str
    ipv4: str
    ipv6: str  # '-' unless dual stack
    subnet: str
    instance: str  # '-' for managed ENIs (NAT gateway, RDS, ElastiCache, Lambda)
    az: str


class _FlowLog(NamedTuple):
    account: str
    region: str
    vpc: str
    id: str
    fields: tuple[str, ...]
    share: float
    roles: dict  # role -> list of (_Eni, static tuple of the v3+ ENI fields)
    db_ports: tuple[str, ...]  # per db ENI
    allows_icmp: bool


def _topology(spec: SampleSpec) -> list[_FlowLog]:
    """Accounts -> regions -> VPCs (one flow log each) -> subnets and ENIs; formats per flow log."""
    rng, formats_rng = random.Random(f"topology:{spec.seed}"), random.Random(f"formats:{spec.seed}")
    accounts: list[str] = []
    while len(accounts) < spec.accounts:
        account = f"0{rng.randrange(10**11):011d}" if not accounts else f"{rng.randrange(10**11, 10**12)}"
        if account not in accounts:
            accounts.append(account)
    vpcs = []
    for account in accounts:
        for region in rng.sample(sorted(REGIONS), rng.randint(1, 2)):
            for _ in range(rng.randint(1, 2)):
                vpcs.append((account, region, 3.0 if not vpcs else rng.lognormvariate(0, 0.7)))
    custom = round(spec.custom_share * len(vpcs))
    if 0 < spec.custom_share < 1:  # both formats whenever the share asks for both
        custom = min(max(custom, 1), len(vpcs) - 1) if len(vpcs) > 1 else custom
    custom_indexes = sorted(formats_rng.sample(range(len(vpcs)), custom))
    flow_logs = []
    for index, (account, region, share) in enumerate(vpcs):
        if index in custom_indexes:
            fields = _custom_fields(formats_rng, with_version=index == custom_indexes[0] or formats_rng.random() < 0.5)
        else:
            fields = FIELDS_V2
        flow_logs.append(_vpc(rng, account, region, index, share, fields))
    return flow_logs


def _custom_fields(rng: random.Random, with_version: bool) -> tuple[str, ...]:
    """The marts' 13 fields, several v3..`newest` fields (at least one of `newest`), maybe `version`; shuffled."""
    newest = rng.choice((3, 4, 5))
    candidates = [f for f in V3_FIELDS + V4_FIELDS + V5_FIELDS if FIELD_VERSION[f] <= newest]
    chosen = set(rng.sample(candidates, rng.randint(3, len(candidates))))
    chosen.add(rng.choice([f for f in candidates if FIELD_VERSION[f] == newest]))
    fields = [*REQUIRED_FIELDS, *(f for f in candidates if f in chosen), *(["version"] if with_version else [])]
    rng.shuffle(fields)
    return tuple(fields)


def _vpc(rng: random.Random, account: str, region: str, index: int, share: float, fields: tuple) -> _FlowLog:
    az_prefix, az_numbers, v6_base = REGIONS[region]
    azs = rng.sample(az_numbers, min(len(az_numbers), rng.randint(2, 3)))
    second = (16 + index) % 256  # 10.<second>.0.0/16, distinct for up to 240 VPCs
    v6_vpc = (v6_base << 96) | (rng.getrandbits(24) << 72)  # an Amazon /56 for the VPC
    vpc_id = _hex(rng, "vpc-")
    subnets = {}  # (tier, az slot) -> (subnet id, third octet, IPv6 /64 or 0)
    for slot, _ in enumerate(azs):
        for tier, offset in (("public", 0), ("app", 10), ("db", 20)):
            v6 = v6_vpc | ((offset + slot) << 64) if tier == "public" else 0
            subnets[tier, slot] = (_hex(rng, "subnet-"), offset + slot, v6)
    used: set[str] = set()

    def eni(tier: str, instance: bool, dual_stack: bool = False) -> _Eni:
        slot = rng.randrange(len(azs))
        subnet, third, v6 = subnets[tier, slot]
        ipv4 = ""
        while not ipv4 or ipv4 in used:
            ipv4 = f"10.{second}.{third}.{rng.randrange(4, 251)}"
        used.add(ipv4)
        ipv6 = str(ipaddress.IPv6Address(v6 | rng.getrandbits(64))) if dual_stack else "-"
        return _Eni(_hex(rng, "eni-"), ipv4, ipv6, subnet, _hex(rng, "i-") if instance else "-", f"{az_prefix}-az{azs[slot]}")

    roles = {
        "web": [eni("public", True, dual_stack=True) for _ in range(rng.randint(2, 5))],
        "app": [eni("app", True) for _ in range(rng.randint(2, 6))],
        "db": [eni("db", False) for _ in range(rng.randint(1, 3))],
        "nat": [eni("public", False) for _ in range(rng.randint(1, 2))],
        "idle": [eni("app", rng.random() < 0.5) for _ in range(rng.randint(1, 2))],
    }
    version = str(max(FIELD_VERSION[f] for f in fields))
    statics = {role: [(e, (version, account, e.id, vpc_id, e.subnet, e.instance, region, e.az, "-", "-")) for e in enis]
               for role, enis in roles.items()}
    db_ports = tuple(DB_PORTS[i] if i < len(DB_PORTS) else rng.choice(DB_PORTS) for i in range(len(roles["db"])))
    return _FlowLog(account, region, vpc_id, _hex(rng, "fl-"), fields, share, statics, db_ports, rng.random() < 0.6)


@lru_cache(maxsize=2)
def _pools(seed: int, interval: int) -> _Pools:
    return _Pools(seed, interval)  # read-only afterwards, so repeated runs share it


class _Pools:
    """Everything reusable across flow logs and files: the internet's hosts and packet/byte shapes."""

    def __init__(self, seed: int, interval: int):
        rng = random.Random(f"pools:{seed}")
        # Internet clients, Zipf-weighted: (address, pkt-src-aws-service).
        v4 = [(f"{rng.choice(ISP_V4)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}", "-")
              for _ in range(20_000)]
        v4[::25] = [(_in(rng, rng.choice(CLOUDFRONT_V4)), "CLOUDFRONT") for _ in v4[::25]]  # CloudFront origin fetches
        rng.shuffle(v4)
        v6 = [(str(ipaddress.IPv6Address(int(net.network_address) | rng.getrandbits(128 - net.prefixlen))), "-")
              for net in (ipaddress.ip_network(rng.choice(ISP_V6)) for _ in range(5_000))]
        self.clients = {4: (v4, list(accumulate(_zipf(len(v4), 1.0)))), 6: (v6, list(accumulate(_zipf(len(v6), 1.0))))}
        self.scanners = [_in(rng, rng.choice(SCANNER_V4)) for _ in range(40)]
        self.scanner_cum = list(accumulate(_zipf(len(self.scanners), 1.2)))
        self.monitors = [_in(rng, net) for net in MONITORS_V4 for _ in range(2)]
        destinations: dict[tuple, float] = {}  # 8 hosts per kind of destination
        for nets, port, proto, svc, pools, weight in NAT_DESTINATIONS:
            for _ in range(8):
                host = (_in(rng, rng.choice(nets)), port, proto, svc, pools)
                destinations[host] = destinations.get(host, 0.0) + weight / 8
        self.nat_destinations = _table(destinations, 400)
        self.s3 = [_in(rng, rng.choice(S3_V4)) for _ in range(16)]
        scan_ports = _table(SCAN_PORTS, POOL // 2)
        self.scan_ports = scan_ports + [PORTS[rng.randrange(1, 65536)] for _ in range(POOL - len(scan_ports))]
        # (packets, bytes, tcp-flags) as text: lognormal packets, a mean packet size within the
        # shape's range (so 40 <= bytes/packets <= 9001), flags as OR-ed over the interval.
        request_flags, response_flags = _table(TCP_REQUEST_FLAGS, 100), _table(TCP_RESPONSE_FLAGS, 100)
        shapes = {  # name: (median packets, sigma, min mean size, max mean size, tcp-flags)
            "req": (6, 1.0, 80, 700, request_flags), "resp": (10, 1.3, 600, 1460, response_flags),
            "ireq": (8, 1.0, 100, 1200, request_flags), "iresp": (12, 1.4, 800, 8900, response_flags),
            "dbreq": (20, 1.2, 90, 600, request_flags), "dbresp": (25, 1.4, 200, 8000, response_flags),
            "nat_req": (12, 1.2, 80, 900, request_flags), "nat_resp": (30, 1.6, 800, 1460, response_flags),
            "dns_req": (1, 0.4, 60, 120, ("0",)), "dns_resp": (1, 0.4, 80, 480, ("0",)), "ntp": (1, 0.2, 76, 76, ("0",)),
            # Streams that run the whole interval: ~200 Mbit/s of jumbo frames and their ACKs.
            "heavy": (200_000 * interval, 0.7, 8000, 9001, ("0",)), "heavy_ack": (15_000 * interval, 0.7, 52, 66, ("0",)),
            "icmp": (3, 0.8, 84, 84, ("0",)), "icmp6": (3, 0.8, 104, 104, ("0",)),
        }
        self.counts = {name: [self._count(rng, *shape) for _ in range(POOL)] for name, shape in shapes.items()}
        self.counts["syn"] = [self._syn(rng, rng.choices((1, 2, 3), (70, 20, 10))[0]) for _ in range(POOL)]
        self.counts["retry"] = [self._syn(rng, rng.choices((1, 2, 3, 4, 5, 6), (10, 15, 20, 20, 20, 15))[0])
                                for _ in range(POOL)]

    @staticmethod
    def _count(rng: random.Random, median: float, sigma: float, low: int, high: int,
               flags: Sequence[str]) -> tuple[str, str, str]:
        packets = max(1, int(rng.lognormvariate(log(median), sigma)))
        return str(packets), str(int(packets * rng.uniform(low, high))), rng.choice(flags)

    @staticmethod
    def _syn(rng: random.Random, packets: int) -> tuple[str, str, str]:
        return str(packets), str(packets * rng.choice((40, 44, 52, 60))), "2"  # SYNs, with or without options


def _times(rng: random.Random, interval: int) -> dict[str, list[tuple[int, int]]]:
    """(end, start) as seconds before the file's last second: the end within the 5 minutes before
    the stamp, the start earlier by the record's duration, at most the aggregation interval."""
    cap = interval * 60
    durations = {
        "short": lambda: min(cap, int(rng.lognormvariate(0.0, 1.5))),  # request/response, ~1 s
        "long": lambda: int(cap * rng.uniform(0.3, 1.0)),  # pooled connections, streams
        "blip": lambda: min(cap, int(rng.expovariate(1.0))),  # SYNs, pings, DNS
        "full": lambda: cap - rng.randrange(0, 4),  # NODATA/SKIPDATA: the whole window
    }
    mixes = {"short": {"short": 1}, "long": {"long": 1}, "blip": {"blip": 1}, "full": {"full": 1},
             "web": {"short": 0.8, "long": 0.2}, "internal": {"short": 0.6, "long": 0.4}}
    times = {}
    for name, mix in mixes.items():
        kinds = rng.choices(list(mix), weights=list(mix.values()), k=POOL)
        times[name] = [(end, end + durations[kind]()) for end, kind in zip(rng.choices(range(DELIVERY_SECONDS), k=POOL), kinds)]
    return times


def _kinds(fl: _FlowLog, pools: _Pools, times: dict, rng: random.Random, secs: list[str], top: int,
           v6_share: float) -> list[Callable[[], tuple]]:
    """The record makers of one file, as a weighted table; each returns a record in `_INDEX` order.

    `secs[top]` is the second before the file's stamp, as text; `times` come from `_times`.
    """
    rand, counts, ports = rng.random, pools.counts, PORTS
    req, resp, ireq, iresp = counts["req"], counts["resp"], counts["ireq"], counts["iresp"]
    dbreq, dbresp, syn, retries = counts["dbreq"], counts["dbresp"], counts["syn"], counts["retry"]
    heavy_data, heavy_ack = counts["heavy"], counts["heavy_ack"]
    web_t, internal_t, short_t, long_t = times["web"], times["internal"], times["short"], times["long"]
    blip_t, full_t = times["blip"], times["full"]
    webs, apps, dbs, nats = fl.roles["web"], fl.roles["app"], fl.roles["db"], fl.roles["nat"]
    nw, na, nd, nn = len(webs), len(apps), len(dbs), len(nats)
    c4, cum4 = pools.clients[4]
    c6, cum6 = pools.clients[6]
    t4, t6, l4, l6 = cum4[-1], cum6[-1], len(c4) - 1, len(c6) - 1
    scanners, scum, ls = pools.scanners, pools.scanner_cum, len(pools.scanners) - 1
    monitors, dests, s3 = pools.monitors, pools.nat_destinations, pools.s3
    scan_ports, nsp, nds = pools.scan_ports, len(pools.scan_ports), len(pools.nat_destinations)
    # Misconfigured clients, the same in every file of the flow log: (source, observing ENI, its address, port).
    chooser = random.Random(f"misconfigured:{fl.id}")
    misconfigured = []
    for _ in range(6):  # internet hosts retrying SSH, RDP, telnet, SMB on a web instance
        eni, static = webs[chooser.randrange(nw)]
        source = next(address for address, service in (c4[chooser.randrange(500)] for _ in range(50)) if service == "-")
        misconfigured.append((source, static, eni.ipv4, chooser.choice(CLOSED_PORTS)))
    if nd:  # an app instance configured with the wrong database port
        (app, _), (db, static) = apps[chooser.randrange(na)], dbs[chooser.randrange(nd)]
        misconfigured.append((app.ipv4, static, db.ipv4, "5433"))
    nm = len(misconfigured)
    backup = apps[0]  # the heavy hitters: one app host backs up to S3, databases replicate
    idle = fl.roles["idle"] * 6 + webs + apps + dbs  # NODATA mostly on idle ENIs
    app_ports = [("8080", "8080", "8080", "9090")] * na  # the service and its admin/metrics port
    db_ports = [(port,) for port in fl.db_ports]

    def web() -> tuple:
        eni, static = webs[int(rand() * nw)]
        if rand() < v6_share:
            client, svc = c6[bisect(cum6, rand() * t6, 0, l6)]
            local, family = eni.ipv6, "IPv6"
        else:
            client, svc = c4[bisect(cum4, rand() * t4, 0, l4)]
            local, family = eni.ipv4, "IPv4"
        port = "443" if rand() < 0.85 else "80"
        ephemeral = ports[1024 + int(rand() * EPHEMERAL)]
        e, b = web_t[int(rand() * POOL)]
        if rand() < 0.5:
            packets, nbytes, flags = req[int(rand() * POOL)]
            return (client, local, ephemeral, port, "6", packets, nbytes, secs[top - b], secs[top - e], "ACCEPT",
                    "OK", flags, family, client, local, svc, "-", "ingress", "-", *static)
        packets, nbytes, flags = resp[int(rand() * POOL)]
        return (local, client, port, ephemeral, "6", packets, nbytes, secs[top - b], secs[top - e], "ACCEPT", "OK",
                flags, family, local, client, "-", svc, "egress", "8", *static)

    def internal(clients: list, servers: list, server_ports: list[tuple[str, ...]], requests: list,
                 responses: list) -> tuple:
        """A connection between two ENIs of the VPC, seen from either side, in either direction."""
        i = int(rand() * len(servers))
        (client, client_static), (server, server_static) = clients[int(rand() * len(clients))], servers[i]
        port = server_ports[i][int(rand() * len(server_ports[i]))]
        ephemeral = ports[1024 + int(rand() * EPHEMERAL)]
        e, b = internal_t[int(rand() * POOL)]
        side = rand()
        if side < 0.5:  # request: client -> server, egress at the client, ingress at the server
            packets, nbytes, flags = requests[int(rand() * POOL)]
            src, dst, sport, dport = client.ipv4, server.ipv4, ephemeral, port
            static, direction, path = (client_static, "egress", "1") if side < 0.25 else (server_static, "ingress", "-")
        else:
            packets, nbytes, flags = responses[int(rand() * POOL)]
            src, dst, sport, dport = server.ipv4, client.ipv4, port, ephemeral
            static, direction, path = (server_static, "egress", "1") if side < 0.75 else (client_static, "ingress", "-")
        return (src, dst, sport, dport, "6", packets, nbytes, secs[top - b], secs[top - e], "ACCEPT", "OK", flags,
                "IPv4", src, dst, "-", "-", direction, path, *static)

    def web_app() -> tuple:
        return internal(webs, apps, app_ports, ireq, iresp)

    def app_db() -> tuple:
        return internal(apps, dbs, db_ports, dbreq, dbresp)

    def nat() -> tuple:
        app, app_static = apps[int(rand() * na)]
        gateway, gateway_static = nats[int(rand() * nn)]
        remote, port, proto, svc, (qpool, rpool) = dests[int(rand() * nds)]
        ephemeral = ports[1024 + int(rand() * EPHEMERAL)]
        e, b = (blip_t if proto == "17" else short_t)[int(rand() * POOL)]
        start, end = secs[top - b], secs[top - e]
        side = rand()
        if side < 0.25:  # the instance's ENI, towards the gateway
            packets, nbytes, flags = counts[qpool][int(rand() * POOL)]
            return (app.ipv4, remote, ephemeral, port, proto, packets, nbytes, start, end, "ACCEPT", "OK", flags,
                    "IPv4", app.ipv4, remote, "-", svc, "egress", "1", *app_static)
        if side < 0.5:
            packets, nbytes, flags = counts[rpool][int(rand() * POOL)]
            return (remote, app.ipv4, port, ephemeral, proto, packets, nbytes, start, end, "ACCEPT", "OK", flags,
                    "IPv4", remote, app.ipv4, svc, "-", "ingress", "-", *app_static)
        if side < 0.75:  # the gateway's ENI: its own address outside, the instance's in pkt-srcaddr
            packets, nbytes, flags = counts[qpool][int(rand() * POOL)]
            return (gateway.ipv4, remote, ephemeral, port, proto, packets, nbytes, start, end, "ACCEPT", "OK", flags,
                    "IPv4", app.ipv4, remote, "-", svc, "egress", "8", *gateway_static)
        packets, nbytes, flags = counts[rpool][int(rand() * POOL)]
        return (remote, gateway.ipv4, port, ephemeral, proto, packets, nbytes, start, end, "ACCEPT", "OK", flags,
                "IPv4", remote, app.ipv4, svc, "-", "ingress", "-", *gateway_static)

    def icmp() -> tuple:
        eni, static = webs[int(rand() * nw)]
        e, b = blip_t[int(rand() * POOL)]
        if rand() < v6_share:  # ICMPv6
            remote, local, family, proto, pool = c6[bisect(cum6, rand() * t6, 0, l6)][0], eni.ipv6, "IPv6", "58", "icmp6"
        else:  # uptime monitors and curious clients
            remote = monitors[int(rand() * len(monitors))] if rand() < 0.5 else c4[int(rand() * l4)][0]
            local, family, proto, pool = eni.ipv4, "IPv4", "1", "icmp"
        packets, nbytes, _ = counts[pool][int(rand() * POOL)]
        if not fl.allows_icmp:  # the security group drops pings: only the inbound echo requests show
            return (remote, local, "0", "0", proto, packets, nbytes, secs[top - b], secs[top - e], "REJECT", "OK",
                    "0", family, remote, local, "-", "-", "ingress", "-", *static)
        if rand() < 0.5:
            return (remote, local, "0", "0", proto, packets, nbytes, secs[top - b], secs[top - e], "ACCEPT", "OK",
                    "0", family, remote, local, "-", "-", "ingress", "-", *static)
        return (local, remote, "0", "0", proto, packets, nbytes, secs[top - b], secs[top - e], "ACCEPT", "OK",
                "0", family, local, remote, "-", "-", "egress", "8", *static)

    def scan() -> tuple:
        eni, static = webs[int(rand() * nw)]
        scanner = scanners[bisect(scum, rand() * scum[-1], 0, ls)]
        e, b = blip_t[int(rand() * POOL)]
        packets, nbytes, _ = syn[int(rand() * POOL)]
        ephemeral = ports[1024 + int(rand() * EPHEMERAL)]
        if rand() < 0.15:
            port = SCAN_UDP_PORTS[int(rand() * len(SCAN_UDP_PORTS))]
            return (scanner, eni.ipv4, ephemeral, port, "17", packets, nbytes, secs[top - b], secs[top - e],
                    "REJECT", "OK", "0", "IPv4", scanner, eni.ipv4, "-", "-", "ingress", "-", *static)
        port = scan_ports[int(rand() * nsp)]
        action = "ACCEPT" if port == "443" or port == "80" else "REJECT"
        return (scanner, eni.ipv4, ephemeral, port, "6", packets, nbytes, secs[top - b], secs[top - e],
                action, "OK", "2", "IPv4", scanner, eni.ipv4, "-", "-", "ingress", "-", *static)

    def retry() -> tuple:
        src, static, local, port = misconfigured[int(rand() * nm)]
        e, b = short_t[int(rand() * POOL)]
        packets, nbytes, flags = retries[int(rand() * POOL)]
        return (src, local, ports[1024 + int(rand() * EPHEMERAL)], port, "6", packets, nbytes, secs[top - b],
                secs[top - e], "REJECT", "OK", flags, "IPv4", src, local, "-", "-", "ingress", "-", *static)

    def heavy() -> tuple:
        e, b = long_t[int(rand() * POOL)]
        start, end = secs[top - b], secs[top - e]
        if nd < 2 or rand() < 0.5:  # a backup job streaming to S3 through the gateway endpoint
            (host, static), remote = backup, s3[int(rand() * len(s3))]
            ephemeral = ports[1024 + int(rand() * EPHEMERAL)]
            if rand() < 0.7:
                packets, nbytes, _ = heavy_data[int(rand() * POOL)]
                return (host.ipv4, remote, ephemeral, "443", "6", packets, nbytes, start, end, "ACCEPT", "OK", "0",
                        "IPv4", host.ipv4, remote, "-", "S3", "egress", "7", *static)
            packets, nbytes, _ = heavy_ack[int(rand() * POOL)]
            return (remote, host.ipv4, "443", ephemeral, "6", packets, nbytes, start, end, "ACCEPT", "OK", "0",
                    "IPv4", remote, host.ipv4, "S3", "-", "ingress", "-", *static)
        # Database replication: one long connection from the replica to the primary.
        (primary, primary_static), (replica, replica_static) = dbs[0], dbs[1]
        port, ephemeral = fl.db_ports[0], ports[40000 + int(primary.id[-4:], 16) % 20000]
        if rand() < 0.7:  # the WAL stream, primary -> replica
            packets, nbytes, _ = heavy_data[int(rand() * POOL)]
            src, dst, sport, dport, egress, ingress = primary, replica, port, ephemeral, primary_static, replica_static
        else:
            packets, nbytes, _ = heavy_ack[int(rand() * POOL)]
            src, dst, sport, dport, egress, ingress = replica, primary, ephemeral, port, replica_static, primary_static
        static, direction, path = (egress, "egress", "1") if rand() < 0.5 else (ingress, "ingress", "-")
        return (src.ipv4, dst.ipv4, sport, dport, "6", packets, nbytes, start, end, "ACCEPT", "OK", "0", "IPv4",
                src.ipv4, dst.ipv4, "-", "-", direction, path, *static)

    def no_data(status: str) -> Callable[[], tuple]:
        def record() -> tuple:
            _, static = idle[int(rand() * len(idle))]
            e, b = full_t[int(rand() * POOL)]
            return (*_NO_DATA, secs[top - b], secs[top - e], "-", status, *_NO_PACKET, *static)
        return record

    makers = {"web": web, "web_app": web_app, "app_db": app_db if nd else web_app, "nat": nat, "icmp": icmp,
              "scan": scan, "retry": retry, "heavy": heavy, "nodata": no_data("NODATA"), "skipdata": no_data("SKIPDATA")}
    return _table({makers[kind]: weight for kind, weight in KINDS.items()}, 1000)


def _lines(fl: _FlowLog, kinds: list[Callable[[], tuple]], n: int, rng: random.Random) -> list[str]:
    """`n` lines of one file: the hot loop is a kind pick, its closure, the field order and a join."""
    rand, nk, join, order = rng.random, len(kinds), " ".join, itemgetter(*(_INDEX[f] for f in fl.fields))
    return [join(order(kinds[int(rand() * nk)]())) for _ in range(n)]


def _put(store: ObjectStore, bucket: str, key: str, header: str, lines: list[str]) -> ObjectInfo:
    data = gzip.compress((header + "\n".join(lines) + "\n").encode("ascii"), compresslevel=6, mtime=0)
    return store.put(bucket, key, data)


def _plan(spec: SampleSpec, rng: random.Random, flow_logs: list[_FlowLog]) -> list[tuple[int, datetime, float]]:
    """(flow log index, delivery stamp, relative weight) per file, in write order; late files last."""
    plan, start = [], spec.start.astimezone(timezone.utc)
    for h in range(spec.hours):
        hour = start + timedelta(hours=h)
        for minute in range(0, 60, DELIVERY_SECONDS // 60):
            stamp = hour + timedelta(minutes=minute)
            plan += [(f, stamp, DIURNAL[hour.hour] * fl.share * rng.uniform(0.6, 1.4)) for f, fl in enumerate(flow_logs)]
    for _ in range(spec.late_files):
        stamp = start + timedelta(hours=rng.randrange(spec.hours - 1), minutes=5 * rng.randrange(12))
        f = rng.choices(range(len(flow_logs)), weights=[fl.share for fl in flow_logs])[0]
        plan.append((f, stamp, DIURNAL[stamp.hour] * flow_logs[f].share * rng.uniform(0.2, 0.8)))
    return plan


def _validate(spec: SampleSpec) -> None:
    if spec.hours < 1 or spec.records < 0 or spec.accounts < 1 or spec.late_files < 0:
        raise ValueError(f"invalid sample spec: {spec}")
    if spec.interval_minutes not in (1, 10):
        raise ValueError(f"interval_minutes must be 1 or 10: {spec.interval_minutes}")
    for name in ("custom_share", "ipv6_share"):
        if not 0.0 <= getattr(spec, name) <= 1.0:
            raise ValueError(f"{name} must be within [0, 1]: {getattr(spec, name)}")
    if spec.late_files and spec.hours < 2:
        raise ValueError("late_files need at least two hours: they are named for an hour before the last")
    utc = spec.start.astimezone(timezone.utc) if spec.start.tzinfo else None
    if utc is None or utc != utc.replace(minute=0, second=0, microsecond=0):
        raise ValueError(f"start must be a tz-aware datetime on a whole hour: {spec.start}")


def generate(store: ObjectStore, spec: SampleSpec, *, bucket: str = "landing",
             progress: Callable[[int, int], None] | None = None) -> list[ObjectInfo]:
    """Write the sample's files to `bucket` one at a time (memory stays at a couple of files).

    Returns the ObjectInfos in write order; `progress(done_records, total_records)` after each file.
    """
    _validate(spec)
    rng = random.Random(f"plan:{spec.seed}")
    flow_logs, pools = _topology(spec), _pools(spec.seed, spec.interval_minutes)
    times = _times(random.Random(f"times:{spec.seed}:{spec.interval_minutes}"), spec.interval_minutes)
    plan = _plan(spec, rng, flow_logs)
    counts = split_exactly(spec.records, [weight for _, _, weight in plan])
    files, keys = [], set()  # (flow log, stamp, key, file seed, records) in write order; keys checked up front
    for (f, stamp, _), n in zip(plan, counts):
        fl, file_seed, key = flow_logs[f], rng.getrandbits(64), ""  # drawn for empty files too: keeps others stable
        while not key or key in keys:
            key = object_name(spec.prefix, fl.account, fl.region, fl.id, stamp, f"{rng.getrandbits(32):08x}")
        if n:
            keys.add(key)
            files.append((fl, stamp, key, file_seed, n))
    written, done, pending, seconds = [], 0, None, (None, [])

    def publish(stored: Future, n: int) -> None:
        nonlocal done
        written.append(stored.result())
        done += n
        if progress is not None:
            progress(done, spec.records)

    # Compressing (gzip level 6, zlib releases the GIL) and storing file i happen in a worker
    # while this thread renders file i+1; one worker keeps the puts in plan order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpc-flow-sample-put") as putter:
        for fl, stamp, key, file_seed, n in files:
            hour = stamp.replace(minute=0)
            if seconds[0] != hour:  # epoch seconds as text, from 30 minutes before the hour to its end
                base = int(hour.timestamp()) - 1800
                seconds = (hour, [str(base + i) for i in range(5400)])
            top = int(stamp.timestamp()) - 1 - (int(hour.timestamp()) - 1800)  # index of the second before the stamp
            file_rng = random.Random(file_seed)
            kinds = _kinds(fl, pools, times, file_rng, seconds[1], top, spec.ipv6_share)
            lines = _lines(fl, kinds, n, file_rng)
            stored = putter.submit(_put, store, bucket, key, " ".join(fl.fields) + "\n", lines)
            if pending is not None:
                publish(*pending)
            pending = (stored, n)
        if pending is not None:
            publish(*pending)
    return written
