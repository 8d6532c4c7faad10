"""The clinical domain's command-line hooks: `dataplatform sample mimic` (a full MIMIC-III-shaped
delivery with its manifest) and the OMOP warehouse's headline KPIs in `dataplatform summary`."""

from __future__ import annotations

from assets.clinical.format import warehouse_path
from dataplatform.domains import Sample, Warehouse


def _options(group) -> None:
    group.add_argument("--patients", type=int, default=1000, help="mimic: patients")
    group.add_argument("--format", choices=("csv", "parquet"), default="csv", help="mimic: gzip CSV or Parquet files")
    group.add_argument("--notes", action="store_true", help="mimic: include NOTEEVENTS")
    group.add_argument("--delivery", default=None, help="mimic: delivery id (default mimic-<seed>-<patients>)")


def _write(lake, args, progress) -> tuple[list, str]:
    from assets.clinical import sample

    spec = sample.SampleSpec(patients=args.patients, seed=args.seed, delivery_id=args.delivery, fmt=args.format,
                             notes=args.notes)
    sample.check_delivery(spec.delivery, spec.fmt)  # before generating the tables
    tables = sample.generate_tables(spec)
    keys = sample.write_delivery(lake, tables, spec.delivery, spec.fmt)
    prefix = keys[-1].rsplit("/", 1)[0] + "/"
    return list(lake.list(sample.LANDING_BUCKET, prefix)), lake.uri(sample.LANDING_BUCKET, prefix)


SAMPLES = {"mimic": Sample(help="a MIMIC-III-shaped clinical delivery (every table, then its manifest)",
                           add_options=_options, write=_write, hourly=False)}

KPIS = {
    "omop persons": "select count(*) from omop_cdm.person",
    "omop visits (in-hospital deaths)": "select count(*) || ' (' || (select count(*) from omop_cdm.death "
    "where death_type_concept_id = 32817) || ')' from omop_cdm.visit_occurrence",
    "omop records mapped to a standard concept": "select round(100.0 * count(*) filter (where condition_concept_id <> 0) "
    "/ count(*), 1) || ' % of conditions' from omop_cdm.condition_occurrence",
    "omop data-quality checks passed": "select count(*) filter (where passed) || ' of ' || count(*) "
    "from omop_results.omop_dq_results",
}
# Its own DuckDB file locally (Redshift in aws).
WAREHOUSES = [Warehouse(path=warehouse_path, schemas=("omop_cdm", "omop_results"), kpis=KPIS)]


def summarise(console, adapters) -> None:
    """Deliveries: the newest one loaded, and every later one still waiting, with its reason."""
    from assets.clinical.delivery import newest_complete_delivery, pending_problems

    newest = newest_complete_delivery(adapters["lake"])
    waiting = pending_problems(adapters["lake"], newest[0] if newest else None)
    loaded = f"newest complete delivery {newest[0].delivery_id}" if newest else "no complete delivery"
    console.print(f"clinical deliveries: {loaded}; {len(waiting)} waiting" + "".join(f"\n  [yellow]{w}[/yellow]" for w in waiting))


SUMMARIES = [summarise]
