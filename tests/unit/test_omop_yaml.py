"""The OMOP CDM model YAMLs are generated from the spec (assets.clinical.omop_spec): the
committed files must be exactly what the generator writes today."""

import yaml

from assets.clinical import omop_spec


def test_committed_yamls_are_generated_from_the_spec():
    stale = [path.name for path, text in omop_spec.rendered().items() if not path.exists() or path.read_text() != text]
    assert stale == [], f"run `python -m assets.clinical.omop_spec` and commit: {stale}"


def test_every_spec_column_is_declared_in_spec_order_with_a_portable_type():
    for table, fields in omop_spec.fields().items():
        assert fields, table
        (model,) = yaml.safe_load(omop_spec.render(table))["models"]
        assert model["config"]["contract"] == {"enforced": True}
        assert [c["name"] for c in model["columns"]] == [f.name for f in fields]
        for column, field in zip(model["columns"], fields):
            assert column["data_type"] in {"integer", "float8", "date", "timestamp"} or column["data_type"].startswith("varchar(")
            assert ("constraints" in column) == field.required, (table, field.name)


def test_portable_types():
    assert [omop_spec.portable_type(t) for t in ("integer", "Integer", "float", "date", "datetime", "varchar(50)", "varchar(MAX)")] == [
        "integer", "integer", "float8", "date", "timestamp", "varchar(50)", "varchar(65535)"]


def test_redshift_physical_design():
    assert omop_spec.physical_config("condition_occurrence") == {"dist": "person_id", "sort": ["person_id", "condition_start_date"]}
    assert omop_spec.physical_config("procedure_occurrence")["sort"] == ["person_id", "procedure_date"]
    assert omop_spec.physical_config("concept") == {"dist": "all", "sort": ["concept_id"]}
    assert omop_spec.physical_config("care_site")["dist"] == "all"
    assert all(omop_spec.physical_config(t)["dist"] == "all" for t in omop_spec.VOCABULARY_TABLES)


def test_descriptions_are_one_line():
    for table in omop_spec.CDM_TABLES:
        (model,) = yaml.safe_load(omop_spec.render(table))["models"]
        assert model["description"] and "\n" not in model["description"]
        assert all("\n" not in c["description"] for c in model["columns"])
