"""Clinical domain: MIMIC-III deliveries -> raw tables -> OMOP CDM v5.4 (dbt), with the code
catalogue (`codes`), the vocabulary seeds built from it (`vocabulary`) and a synthetic source (`sample`)."""
