"""The OMOP vocabulary seeds of the clinical domain, generated from the code catalogue (`codes`).

    python -m assets.clinical.vocabulary           # (re)write dbt_project/seeds/clinical/vocab_*.csv
    python -m assets.clinical.vocabulary --check   # exit 1 if a committed seed is stale

One CSV per OMOP CDM v5.4 vocabulary table (columns and order as the spec), comma-separated,
header row, dates YYYY-MM-DD, empty field for NULL, plus `_vocab_seeds.yml` giving dbt the
column types (so codes like '038.9' stay text and empty columns get their type).

Concept ids:

    0                          'No matching concept' (OHDSI)
    real OHDSI ids             OMOP-generated concepts, redistributable: Gender 8507/8532, Race 8527,
                               8516, 8515, 8657, 8557, Ethnicity 38003563/38003564, Visit 9201, 9202,
                               9203, 262, 32037, Type Concept 32817, 32838, 32856, 32815
    2000000001..2000009999     metadata and local-vocabulary concepts: one per vocabulary, domain,
                               concept class and relationship (their *_concept_id), 'English language'
    2000100000+n               ICD9CM source concepts (code with its dot: '428.0', 'V45.81', 'E878.2')
    2000200000+n               ICD9Proc source concepts ('38.93')
    2000300000+n               'MIMIC d_labitems' source concepts (concept_code = ITEMID)
    2000400000+n               'MIMIC d_items' source concepts (concept_code = ITEMID)
    2000500000+n               'MIMIC drugs' source concepts (concept_code = FORMULARY_DRUG_CD)
    2001000000+n               local standard concepts (vocabulary 'DataPlatform Local'); units among
                               them have concept_code = MIMIC's unit spelling ('mg/dL', '?F')

n is the 1-based position in the catalogue (codes.py is append-only). Source concepts are not
standard; each has a 'Maps to' to every standard concept it maps to and the reverse 'Mapped from'
(a few ICD-9 codes deliberately have none). Standard concepts 'Maps to' / 'Mapped from'
themselves and are their own ancestor (levels 0). source_to_concept_map holds MIMIC's
demographic and admission-type values -> OMOP Gender/Race/Ethnicity/Visit concepts.
"""

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from assets.clinical import codes
from assets.clinical.codes import Standard

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "clinical"
VALID_START, VALID_END = "1970-01-01", "2099-12-31"
LOCAL = "DataPlatform Local"
ICD9CM_BASE, ICD9PROC_BASE, LAB_BASE, ITEM_BASE, DRUG_BASE = 2000100000, 2000200000, 2000300000, 2000400000, 2000500000
STANDARD_BASE, METADATA_BASE = 2001000000, 2000000000
METADATA_MAX = 2000009999

# OMOP CDM v5.4 vocabulary tables: (column, spec datatype), in spec order.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "concept": (("concept_id", "integer"), ("concept_name", "varchar(255)"), ("domain_id", "varchar(20)"),
                ("vocabulary_id", "varchar(20)"), ("concept_class_id", "varchar(20)"), ("standard_concept", "varchar(1)"),
                ("concept_code", "varchar(50)"), ("valid_start_date", "date"), ("valid_end_date", "date"),
                ("invalid_reason", "varchar(1)")),
    "vocabulary": (("vocabulary_id", "varchar(20)"), ("vocabulary_name", "varchar(255)"),
                   ("vocabulary_reference", "varchar(255)"), ("vocabulary_version", "varchar(255)"),
                   ("vocabulary_concept_id", "integer")),
    "domain": (("domain_id", "varchar(20)"), ("domain_name", "varchar(255)"), ("domain_concept_id", "integer")),
    "concept_class": (("concept_class_id", "varchar(20)"), ("concept_class_name", "varchar(255)"),
                      ("concept_class_concept_id", "integer")),
    "relationship": (("relationship_id", "varchar(20)"), ("relationship_name", "varchar(255)"),
                     ("is_hierarchical", "varchar(1)"), ("defines_ancestry", "varchar(1)"),
                     ("reverse_relationship_id", "varchar(20)"), ("relationship_concept_id", "integer")),
    "concept_relationship": (("concept_id_1", "integer"), ("concept_id_2", "integer"), ("relationship_id", "varchar(20)"),
                             ("valid_start_date", "date"), ("valid_end_date", "date"), ("invalid_reason", "varchar(1)")),
    "concept_synonym": (("concept_id", "integer"), ("concept_synonym_name", "varchar(1000)"),
                        ("language_concept_id", "integer")),
    "concept_ancestor": (("ancestor_concept_id", "integer"), ("descendant_concept_id", "integer"),
                         ("min_levels_of_separation", "integer"), ("max_levels_of_separation", "integer")),
    "source_to_concept_map": (("source_code", "varchar(50)"), ("source_concept_id", "integer"),
                              ("source_vocabulary_id", "varchar(20)"), ("source_code_description", "varchar(255)"),
                              ("target_concept_id", "integer"), ("target_vocabulary_id", "varchar(20)"),
                              ("valid_start_date", "date"), ("valid_end_date", "date"), ("invalid_reason", "varchar(1)")),
    "drug_strength": (("drug_concept_id", "integer"), ("ingredient_concept_id", "integer"), ("amount_value", "float"),
                      ("amount_unit_concept_id", "integer"), ("numerator_value", "float"),
                      ("numerator_unit_concept_id", "integer"), ("denominator_value", "float"),
                      ("denominator_unit_concept_id", "integer"), ("box_size", "integer"), ("valid_start_date", "date"),
                      ("valid_end_date", "date"), ("invalid_reason", "varchar(1)")),
}

# (vocabulary_id, vocabulary_name, vocabulary_reference)
VOCABULARIES = (
    ("None", "OMOP Standardized Vocabularies", "OMOP generated"),
    ("Domain", "OMOP Domain", "OMOP generated"),
    ("Vocabulary", "OMOP Vocabulary", "OMOP generated"),
    ("Concept Class", "OMOP Concept Class", "OMOP generated"),
    ("Relationship", "OMOP Relationship", "OMOP generated"),
    ("Gender", "OMOP Gender", "OMOP generated"),
    ("Race", "Race and Ethnicity Code Set (USBC)", "OMOP generated"),
    ("Ethnicity", "OMOP Ethnicity", "OMOP generated"),
    ("Visit", "OMOP Visit", "OMOP generated"),
    ("Type Concept", "OMOP Type Concept", "OMOP generated"),
    ("CDM", "OMOP Common Data Model", "https://github.com/OHDSI/CommonDataModel"),
    ("ICD9CM", "International Classification of Diseases, Ninth Revision, Clinical Modification, Volume 1 and 2 (NCHS)",
     "http://www.cdc.gov/nchs/icd/icd9cm.htm"),
    ("ICD9Proc", "International Classification of Diseases, Ninth Revision, Clinical Modification, Volume 3 (NCHS)",
     "http://www.cdc.gov/nchs/icd/icd9cm.htm"),
    ("MIMIC d_labitems", "MIMIC-III laboratory items (local source codes)", "MIMIC-III D_LABITEMS"),
    ("MIMIC d_items", "MIMIC-III charted items (local source codes)", "MIMIC-III D_ITEMS"),
    ("MIMIC drugs", "MIMIC-III formulary drug codes (local source codes)", "MIMIC-III PRESCRIPTIONS"),
    (LOCAL, "Data platform local standard concepts (synthetic, not OHDSI)", "assets/clinical/codes.py"),
)
VOCABULARY_VERSION = "dataplatform 1"
DOMAINS = ("Metadata", "Condition", "Procedure", "Drug", "Measurement", "Observation", "Visit", "Gender", "Race",
           "Ethnicity", "Type Concept", "Unit")
# (relationship_id, name, is_hierarchical, defines_ancestry, reverse)
RELATIONSHIPS = (
    ("Maps to", "Non-standard to Standard map (OMOP)", "0", "0", "Mapped from"),
    ("Mapped from", "Standard to Non-standard map (OMOP)", "0", "0", "Maps to"),
    ("Is a", "Is a", "1", "1", "Subsumes"),
    ("Subsumes", "Subsumes", "1", "1", "Is a"),
)


@dataclass(frozen=True)
class Concept:
    concept_id: int
    name: str
    domain: str
    vocabulary: str
    concept_class: str
    standard: str  # 'S' or ''
    code: str

    def row(self) -> tuple:
        return (self.concept_id, self.name[:255], self.domain, self.vocabulary, self.concept_class, self.standard,
                self.code, VALID_START, VALID_END, "")


# OMOP-generated concepts with their OHDSI ids. Where we do not ship OMOP's concept_code
# (Visit 32037 and the Type Concepts), the code is the concept's name.
OMOP_CONCEPTS = (
    Concept(0, "No matching concept", "Metadata", "None", "Undefined", "", "No matching concept"),
    Concept(8507, "MALE", "Gender", "Gender", "Gender", "S", "M"),
    Concept(8532, "FEMALE", "Gender", "Gender", "Gender", "S", "F"),
    Concept(8657, "American Indian or Alaska Native", "Race", "Race", "Race", "S", "1"),
    Concept(8515, "Asian", "Race", "Race", "Race", "S", "2"),
    Concept(8516, "Black or African American", "Race", "Race", "Race", "S", "3"),
    Concept(8557, "Native Hawaiian or Other Pacific Islander", "Race", "Race", "Race", "S", "4"),
    Concept(8527, "White", "Race", "Race", "Race", "S", "5"),
    Concept(38003563, "Hispanic or Latino", "Ethnicity", "Ethnicity", "Ethnicity", "S", "Hispanic"),
    Concept(38003564, "Not Hispanic or Latino", "Ethnicity", "Ethnicity", "Ethnicity", "S", "Not Hispanic"),
    Concept(9201, "Inpatient Visit", "Visit", "Visit", "Visit", "S", "IP"),
    Concept(9202, "Outpatient Visit", "Visit", "Visit", "Visit", "S", "OP"),
    Concept(9203, "Emergency Room Visit", "Visit", "Visit", "Visit", "S", "ER"),
    Concept(262, "Emergency Room and Inpatient Visit", "Visit", "Visit", "Visit", "S", "ERIP"),
    Concept(32037, "Intensive Care", "Visit", "Visit", "Visit", "S", "Intensive Care"),
    Concept(32817, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "EHR"),
    Concept(32838, "EHR prescription", "Type Concept", "Type Concept", "Type Concept", "S", "EHR prescription"),
    Concept(32856, "Lab", "Type Concept", "Type Concept", "Type Concept", "S", "Lab"),
    Concept(32815, "Death Certificate", "Type Concept", "Type Concept", "Type Concept", "S", "Death Certificate"),
    # cdm_source.cdm_version_concept_id
    Concept(756265, "OMOP CDM Version 5.4.0", "Metadata", "CDM", "CDM", "S", "CDM v5.4.0"),
)
STANDARD_PREFIX = {"Condition": "C", "Procedure": "P", "Measurement": "M", "Observation": "O", "Drug": "D"}


def icd9cm_dotted(code: str) -> str:
    """'4280' -> '428.0', 'V4581' -> 'V45.81', 'E8782' -> 'E878.2', '486' -> '486'."""
    head = 4 if code.startswith("E") else 3
    return code if len(code) <= head else f"{code[:head]}.{code[head:]}"


def icd9proc_dotted(code: str) -> str:
    """'3893' -> '38.93', '966' -> '96.6'."""
    return code if len(code) <= 2 else f"{code[:2]}.{code[2:]}"


def icd9cm_class(code: str) -> str:
    kind = {"V": " V", "E": " E"}.get(code[0], "")
    return f"{len(code)}-dig billing{kind} code"


class _Builder:
    """Collects concepts, relationships and synonyms while walking the catalogue."""

    def __init__(self):
        self.concepts: dict[int, Concept] = {c.concept_id: c for c in OMOP_CONCEPTS}
        self.standard_ids: dict[Standard, int] = {}
        self.maps: list[tuple[int, int]] = []  # (source, standard)
        self.synonyms: list[tuple[int, str]] = []
        self.classes: list[str] = list(dict.fromkeys(c.concept_class for c in OMOP_CONCEPTS))
        self._codes_per_prefix: dict[str, int] = {}

    def add(self, concept: Concept) -> int:
        if concept.concept_id in self.concepts:
            raise ValueError(f"concept id {concept.concept_id} used twice")
        self.concepts[concept.concept_id] = concept
        if concept.concept_class not in self.classes:
            self.classes.append(concept.concept_class)
        return concept.concept_id

    def standard(self, target: Standard) -> int:
        if target not in self.standard_ids:
            code = target.code
            if not code:
                prefix = STANDARD_PREFIX[target.domain]
                self._codes_per_prefix[prefix] = self._codes_per_prefix.get(prefix, 0) + 1
                code = f"{prefix}{self._codes_per_prefix[prefix]:05d}"
            concept_id = STANDARD_BASE + len(self.standard_ids) + 1
            self.standard_ids[target] = self.add(
                Concept(concept_id, target.name, target.domain, LOCAL, target.concept_class, "S", code))
        return self.standard_ids[target]

    def source(self, concept_id: int, name: str, vocabulary: str, concept_class: str, code: str,
               targets: tuple[Standard, ...], default_domain: str) -> int:
        domain = targets[0].domain if targets else default_domain
        self.add(Concept(concept_id, name, domain, vocabulary, concept_class, "", code))
        self.maps.extend((concept_id, self.standard(target)) for target in targets)
        return concept_id


def build() -> dict[str, list[tuple]]:
    """Rows of every vocabulary table (columns as COLUMNS), sorted."""
    b = _Builder()
    for n, dx in enumerate(codes.DIAGNOSES, 1):
        cid = b.source(ICD9CM_BASE + n, dx.long_title, "ICD9CM", icd9cm_class(dx.code), icd9cm_dotted(dx.code),
                       dx.maps_to, "Condition")
        b.synonyms.append((cid, dx.short_title))
    for n, px in enumerate(codes.PROCEDURES, 1):
        cid = b.source(ICD9PROC_BASE + n, px.long_title, "ICD9Proc", f"{len(px.code)}-dig billing code",
                       icd9proc_dotted(px.code), px.maps_to, "Procedure")
        b.synonyms.append((cid, px.short_title))
    for n, lab in enumerate(codes.LAB_ITEMS, 1):
        b.source(LAB_BASE + n, lab.label, "MIMIC d_labitems", "Lab Test", str(lab.itemid), (lab.maps_to,), "Measurement")
    for n, item in enumerate(codes.CHART_ITEMS, 1):
        b.source(ITEM_BASE + n, item.label, "MIMIC d_items", "Clinical Observation", str(item.itemid), item.maps_to,
                 "Observation")
    for n, drug in enumerate(codes.DRUGS, 1):
        b.source(DRUG_BASE + n, drug.drug, "MIMIC drugs", "Drug Product", drug.formulary_drug_cd, drug.maps_to, "Drug")
    for unit in codes.UNITS:
        b.standard(unit.standard)

    # Metadata concepts: one per vocabulary, domain, concept class and relationship.
    next_id = iter(range(METADATA_BASE + 1, METADATA_MAX + 1))
    vocabulary_rows, domain_rows, class_rows, relationship_rows = [], [], [], []
    metadata_classes = ["Vocabulary", "Domain", "Concept Class", "Relationship", "Language"]
    classes = [c for c in b.classes if c not in metadata_classes] + metadata_classes
    for vocabulary_id, name, reference in VOCABULARIES:
        cid = b.add(Concept(next(next_id), name, "Metadata", "Vocabulary", "Vocabulary", "", "OMOP generated"))
        vocabulary_rows.append((vocabulary_id, name, reference, VOCABULARY_VERSION, cid))
    for domain in DOMAINS:
        cid = b.add(Concept(next(next_id), domain, "Metadata", "Domain", "Domain", "", "OMOP generated"))
        domain_rows.append((domain, domain, cid))
    for concept_class in classes:
        cid = b.add(Concept(next(next_id), concept_class, "Metadata", "Concept Class", "Concept Class", "",
                            "OMOP generated"))
        class_rows.append((concept_class, concept_class, cid))
    for relationship_id, name, hierarchical, ancestry, reverse in RELATIONSHIPS:
        cid = b.add(Concept(next(next_id), name, "Metadata", "Relationship", "Relationship", "", "OMOP generated"))
        relationship_rows.append((relationship_id, name, hierarchical, ancestry, reverse, cid))
    english = b.add(Concept(next(next_id), "English language", "Metadata", LOCAL, "Language", "", "en"))

    standard = sorted(c.concept_id for c in b.concepts.values() if c.standard == "S")
    pairs = [(s, t, "Maps to") for s, t in b.maps] + [(t, s, "Mapped from") for s, t in b.maps]
    pairs += [(c, c, rel) for c in standard for rel in ("Maps to", "Mapped from")]
    return {
        "concept": [c.row() for c in sorted(b.concepts.values(), key=lambda c: c.concept_id)],
        "vocabulary": sorted(vocabulary_rows),
        "domain": sorted(domain_rows),
        "concept_class": sorted(class_rows),
        "relationship": sorted(relationship_rows),
        "concept_relationship": [(a, c, rel, VALID_START, VALID_END, "") for a, c, rel in sorted(set(pairs))],
        "concept_synonym": sorted((cid, name, english) for cid, name in b.synonyms),
        "concept_ancestor": [(c, c, 0, 0) for c in standard],
        "source_to_concept_map": _source_to_concept_map(),
        "drug_strength": [],
    }


def _source_to_concept_map() -> list[tuple]:
    """MIMIC's coded demographics and admission types (values, not concepts) -> OMOP concepts."""
    vocabulary_of = {c.concept_id: c.vocabulary for c in OMOP_CONCEPTS}
    mappings = [("MIMIC gender", value, value, cid) for value, cid in codes.GENDERS.items()]
    mappings += [("MIMIC race", e.value, e.value, e.race_concept_id) for e in codes.ETHNICITIES]
    mappings += [("MIMIC ethnicity", e.value, e.value, e.ethnicity_concept_id) for e in codes.ETHNICITIES]
    mappings += [("MIMIC admission_type", value, f"{value} admission", cid) for value, cid in codes.VISIT_CONCEPTS.items()]
    return sorted((code, 0, vocabulary, description, target, vocabulary_of[target], VALID_START, VALID_END, "")
                  for vocabulary, code, description, target in mappings)


def _csv(columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(name for name, _ in columns)
    writer.writerows(rows)
    return out.getvalue()


def portable_type(spec_type: str) -> str:
    """dbt column type DuckDB and Redshift both accept (`float` is 4 bytes in DuckDB; the spec means 8)."""
    return "float8" if spec_type == "float" else spec_type


def _seeds_yaml() -> str:
    lines = ["# Generated by `python -m assets.clinical.vocabulary` from assets/clinical/codes.py. Do not edit.",
             "version: 2", "seeds:"]
    for table, columns in COLUMNS.items():
        types = ", ".join(f"{name}: {portable_type(kind)}" for name, kind in columns)
        lines += [
            f"  - name: vocab_{table}",
            f"    description: The shipped, redistributable content of the OMOP vocabulary table {table} (CDM v5.4 columns).",
            "    config:",
            f"      column_types: {{{types}}}",
            "    columns:",
        ]
        for name, kind in columns:
            lines += [f"      - name: {name}", f"        data_type: {portable_type(kind)}",
                      f"        description: OMOP CDM v5.4 {table}.{name}."]
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    """File name -> content of every seed file."""
    tables = build()
    files = {f"vocab_{table}.csv": _csv(COLUMNS[table], tables[table]) for table in COLUMNS}
    files["_vocab_seeds.yml"] = _seeds_yaml()
    return files


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    files = render()
    if "--check" in argv:
        stale = [name for name, text in files.items()
                 if not (SEEDS_DIR / name).exists() or (SEEDS_DIR / name).read_text() != text]
        print("\n".join(f"stale: {name}" for name in stale) or "vocabulary seeds are up to date")
        return 1 if stale else 0
    SEEDS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (SEEDS_DIR / name).write_text(text)
    rows = sum(text.count("\n") - 1 for name, text in files.items() if name.endswith(".csv"))
    print(f"wrote {len(files)} files ({rows} rows) to {SEEDS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
