"""The registered domains: every entry of platform/policies/domains.yaml is a package
`assets.<name>` that plugs in through two modules of its own:

  definitions.py  `defs`, the domain's dg.Definitions (assets, checks, sensors, jobs, schedules)
  cli.py          optional command-line hooks: SAMPLES (`dataplatform sample <name>`),
                  COMMANDS (`dataplatform <name>`: a command of the domain's own, e.g. reveal),
                  STREAMS (`dataplatform produce <name>`), WAREHOUSES and SUMMARIES
                  (`dataplatform summary`: tables and KPIs; further lines, e.g. serving stores),
                  owned() (the key-value tables and topics it uses, for `doctor`)

The core imports domains only through this module, by name from policy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

import dagster as dg

from dataplatform.governance.policies import load


@dataclass(frozen=True)
class Sample:
    """`dataplatform sample <name>`: options of its own, and a writer into the lake."""

    help: str
    add_options: Callable  # (argparse group) -> None
    write: Callable  # (lake, args, progress) -> (ObjectInfos written, where); ValueError: bad arguments
    hourly: bool = True  # reads the shared hourly options (--start, --hours, --lines, --late-files)


@dataclass(frozen=True)
class Stream:
    """`dataplatform produce <name>`: sample records for a stream of streams.yaml."""

    stream: str  # the stream policy's name
    records: Callable | None = None  # (args, start) -> iterable of records
    add_options: Callable = lambda group: None
    demo: Mapping[str, object] = field(default_factory=dict)  # `dataplatform demo`'s options
    # Instead of records: an application that makes the stream's changes itself, e.g. by writing a
    # database whose outbox feeds the stream. (args, ports) -> exit status; ValueError: bad arguments.
    run: Callable | None = None


@dataclass(frozen=True)
class Command:
    """`dataplatform <name>`: a domain's own command. `run(args, ports)` returns the exit status;
    a ValueError is a usage mistake (one line, exit 2)."""

    help: str
    add_options: Callable  # (argparse parser) -> None
    run: Callable  # (args, ports) -> int


@dataclass(frozen=True)
class Warehouse:
    """What `dataplatform summary` reads: a DuckDB file, its published schemas, headline KPIs."""

    path: Callable[[], Path]
    schemas: tuple[str, ...]
    kpis: Mapping[str, str] = field(default_factory=dict)  # label -> SQL returning one value


@dataclass(frozen=True)
class Domain:
    name: str
    dbt_select: str | None  # models built by the domain's own dbt invocation (own warehouse)

    @property
    def package(self) -> str:
        return f"assets.{self.name}"

    def definitions(self) -> dg.Definitions:
        return importlib.import_module(f"{self.package}.definitions").defs

    def hooks(self) -> ModuleType | None:
        try:
            return importlib.import_module(f"{self.package}.cli")
        except ModuleNotFoundError as missing:
            if missing.name != f"{self.package}.cli":
                raise
            return None


@cache
def registered() -> tuple[Domain, ...]:
    return tuple(
        Domain(name=name, dbt_select=spec.get("dbt_select"))
        for name, spec in load("domains")["domains"].items()
    )


def own_dbt_selections() -> list[str]:
    """dbt selections that domains build themselves; the shared lake build leaves them out."""
    return [domain.dbt_select for domain in registered() if domain.dbt_select]


def samples() -> dict[str, Sample]:
    return _hooks("SAMPLES")


def commands() -> dict[str, Command]:
    return _hooks("COMMANDS")


def sample_streams() -> dict[str, Stream]:
    return _hooks("STREAMS")


def warehouses() -> list[Warehouse]:
    """Each warehouse once (several domains publish into the lake's), with all their KPIs."""
    merged: dict[Path, Warehouse] = {}
    for domain in registered():
        for warehouse in getattr(domain.hooks(), "WAREHOUSES", ()):
            path = warehouse.path()
            if path in merged:
                warehouse = Warehouse(warehouse.path, merged[path].schemas, {**merged[path].kpis, **warehouse.kpis})
            merged[path] = warehouse
    return list(merged.values())


def owned(kind: str) -> list[str]:
    """Names of one kind ("kv_tables", "topics") that the domains use, unprefixed."""
    return [name for domain in registered() for name in getattr(domain.hooks(), "owned", dict)().get(kind, ())]


def summaries() -> list[Callable]:
    return [summarise for domain in registered() for summarise in getattr(domain.hooks(), "SUMMARIES", ())]


def _hooks(name: str) -> dict:
    merged: dict = {}
    for domain in registered():
        for key, hook in getattr(domain.hooks(), name, {}).items():
            if key in merged:
                raise ValueError(f"{name} {key!r} is declared by two domains")
            merged[key] = hook
    return merged
