"""The codes of the clinical domain: one catalogue for the synthetic MIMIC-III generator
(`sample`) and the OMOP vocabulary seeds (`vocabulary`), so both always agree.

Source codes are stored as MIMIC stores them (ICD-9 without dots, ITEMIDs, formulary codes);
each carries the local standard concept(s) it maps to (`maps_to`; empty = no 'Maps to', the
CDM gives it concept 0). Titles of ICD-9-CM and ICD-9 procedures are the public-domain CMS
titles MIMIC's D_ICD_* tables hold; lab and chart items carry no LOINC content.

Append only: the vocabulary numbers source concepts by their position in these tuples.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Standard:
    """A local standard concept (vocabulary 'DataPlatform Local') that source codes map to."""

    domain: str
    name: str
    concept_class: str
    code: str = ""  # concept_code; empty: the vocabulary numbers it (units use their MIMIC spelling)


def condition(name: str) -> Standard:
    return Standard("Condition", name, "Clinical Finding")


def observation(name: str) -> Standard:
    return Standard("Observation", name, "Clinical Observation")


def procedure(name: str) -> Standard:
    return Standard("Procedure", name, "Procedure")


def measurement(name: str, concept_class: str = "Lab Test") -> Standard:
    return Standard("Measurement", name, concept_class)


def ingredient(name: str) -> Standard:
    return Standard("Drug", name, "Ingredient")


# ---------------------------------------------------------------------------- ICD-9-CM diagnoses


@dataclass(frozen=True)
class Diagnosis:
    code: str  # MIMIC style, no dot
    short_title: str
    long_title: str
    weight: float  # relative frequency among the admissions of its population
    maps_to: tuple[Standard, ...]
    newborn: bool = False  # drawn for NEWBORN admissions only (the others for adults only)


def _dx(code: str, short: str, long: str, weight: float, *targets: Standard, newborn: bool = False,
        unmapped: bool = False) -> Diagnosis:
    """Default mapping: V- and E-codes to an Observation, the others to a Condition, named by the long title."""
    if unmapped:
        targets = ()
    elif not targets:
        targets = (observation(long) if code[0] in "VE" else condition(long),)
    return Diagnosis(code, short, long, weight, targets, newborn)


DIAGNOSES: tuple[Diagnosis, ...] = (
    _dx("4019", "Hypertension NOS", "Unspecified essential hypertension", 20.7, condition("Essential hypertension")),
    _dx("4280", "CHF NOS", "Congestive heart failure, unspecified", 13.1, condition("Congestive heart failure")),
    _dx("42731", "Atrial fibrillation", "Atrial fibrillation", 12.9),
    _dx("41401", "Crnry athrscl natve vssl", "Coronary atherosclerosis of native coronary artery", 12.4,
        condition("Coronary arteriosclerosis")),
    _dx("5849", "Acute kidney failure NOS", "Acute kidney failure, unspecified", 9.1, condition("Acute renal failure")),
    _dx("25000", "DMII wo cmp nt st uncntr",
        "Diabetes mellitus without mention of complication, type II or unspecified type, not stated as uncontrolled",
        9.1, condition("Type 2 diabetes mellitus")),
    _dx("2724", "Hyperlipidemia NEC/NOS", "Other and unspecified hyperlipidemia", 8.7, condition("Hyperlipidemia")),
    _dx("51881", "Acute respiratry failure", "Acute respiratory failure", 7.5),
    _dx("5990", "Urin tract infection NOS", "Urinary tract infection, site not specified", 6.6,
        condition("Urinary tract infectious disease")),
    _dx("53081", "Esophageal reflux", "Esophageal reflux", 6.3, condition("Gastroesophageal reflux disease")),
    _dx("2720", "Pure hypercholesterolem", "Pure hypercholesterolemia", 5.9),
    _dx("2859", "Anemia NOS", "Anemia, unspecified", 5.4, condition("Anemia")),
    _dx("2449", "Hypothyroidism NOS", "Unspecified acquired hypothyroidism", 4.9, condition("Hypothyroidism")),
    _dx("486", "Pneumonia, organism NOS", "Pneumonia, organism unspecified", 4.8, condition("Pneumonia")),
    _dx("2851", "Ac posthemorrhag anemia", "Acute posthemorrhagic anemia", 4.6),
    _dx("2762", "Acidosis", "Acidosis", 4.5),
    _dx("496", "Chr airway obstruct NEC", "Chronic airway obstruction, not elsewhere classified", 4.4,
        condition("Chronic obstructive lung disease")),
    _dx("99592", "Severe sepsis", "Severe sepsis", 3.9),
    _dx("V5861", "Long-term use anticoagul", "Long-term (current) use of anticoagulants", 3.8),
    _dx("0389", "Septicemia NOS", "Unspecified septicemia", 3.7, condition("Sepsis")),
    _dx("5070", "Food/vomit pneumonitis", "Pneumonitis due to inhalation of food or vomitus", 3.7,
        condition("Aspiration pneumonia")),
    _dx("2761", "Hyposmolality", "Hyposmolality and/or hyponatremia", 3.4, condition("Hyponatremia")),
    _dx("41071", "Subendo infarct, initial", "Subendocardial infarction, initial episode of care", 3.3,
        condition("Non-ST elevation myocardial infarction")),
    _dx("2875", "Thrombocytopenia NOS", "Thrombocytopenia, unspecified", 3.2, condition("Thrombocytopenic disorder")),
    _dx("4240", "Mitral valve disorder", "Mitral valve disorders", 3.0),
    _dx("V1582", "History of tobacco use", "Personal history of tobacco use", 3.0),
    _dx("5119", "Pleural effusion NOS", "Unspecified pleural effusion", 2.9, condition("Pleural effusion")),
    _dx("V4581", "Aortocoronary bypass", "Aortocoronary bypass status", 2.9),
    _dx("40390", "Hy kid NOS w cr kid I-IV",
        "Hypertensive chronic kidney disease, unspecified, with chronic kidney disease stage I through stage IV, "
        "or unspecified", 2.9, condition("Hypertensive renal disease")),
    _dx("78552", "Septic shock", "Septic shock", 2.8),
    _dx("42789", "Cardiac dysrhythmias NEC", "Other specified cardiac dysrhythmias", 2.7, condition("Cardiac arrhythmia")),
    _dx("412", "Old myocardial infarct", "Old myocardial infarction", 2.7),
    _dx("2767", "Hyperpotassemia", "Hyperpotassemia", 2.6, condition("Hyperkalemia")),
    _dx("5859", "Chronic kidney dis NOS", "Chronic kidney disease, unspecified", 2.6, condition("Chronic kidney disease")),
    _dx("3051", "Tobacco use disorder", "Tobacco use disorder", 2.5, condition("Tobacco dependence syndrome")),
    _dx("4241", "Aortic valve disorder", "Aortic valve disorders", 2.4),
    _dx("V5867", "Long-term use of insulin", "Long-term (current) use of insulin", 2.4),
    _dx("99591", "Sepsis", "Sepsis", 2.3),
    _dx("42732", "Atrial flutter", "Atrial flutter", 1.9),
    _dx("4589", "Hypotension NOS", "Hypotension, unspecified", 1.9, condition("Hypotension")),
    _dx("2768", "Hypopotassemia", "Hypopotassemia", 1.8, condition("Hypokalemia")),
    _dx("27651", "Dehydration", "Dehydration", 1.6),
    _dx("311", "Depressive disorder NEC", "Depressive disorder, not elsewhere classified", 1.9,
        condition("Depressive disorder")),
    _dx("32723", "Obstructive sleep apnea", "Obstructive sleep apnea (adult)(pediatric)", 1.5),
    _dx("42823", "Ac on chr syst hrt fail", "Acute on chronic systolic heart failure", 1.4),
    _dx("42833", "Ac on chr diast hrt fail", "Acute on chronic diastolic heart failure", 1.3),
    _dx("42832", "Chr diastolic hrt fail", "Chronic diastolic heart failure", 1.1),
    _dx("4168", "Chr pulmon heart dis NEC", "Other chronic pulmonary heart diseases", 1.2,
        condition("Pulmonary hypertension")),
    _dx("4271", "Parox ventric tachycard", "Paroxysmal ventricular tachycardia", 1.2,
        condition("Paroxysmal ventricular tachycardia")),
    _dx("2800", "Chr blood loss anemia", "Iron deficiency anemia secondary to blood loss (chronic)", 1.0),
    _dx("5845", "Ac kidny fail, tubr necr", "Acute kidney failure with lesion of tubular necrosis", 1.1,
        condition("Acute tubular necrosis")),
    _dx("5180", "Pulmonary collapse", "Pulmonary collapse", 1.3, condition("Atelectasis")),
    _dx("5789", "Gastrointest hemorr NOS", "Hemorrhage of gastrointestinal tract, unspecified", 1.2,
        condition("Gastrointestinal hemorrhage")),
    _dx("5715", "Cirrhosis of liver NOS", "Cirrhosis of liver without mention of alcohol", 0.9, condition("Cirrhosis of liver")),
    _dx("5712", "Alcohol cirrhosis liver", "Alcoholic cirrhosis of liver", 0.8),
    # A combination code: the abuse (Condition) and the drinking behaviour (Observation).
    _dx("30500", "Alcohol abuse-unspec", "Alcohol abuse, unspecified", 1.0,
        condition("Alcohol abuse"), observation("Alcohol intake above recommended limits")),
    _dx("30390", "Alcoh dep NEC/NOS-unspec", "Other and unspecified alcohol dependence, unspecified", 0.9,
        condition("Alcohol dependence")),
    _dx("2930", "Delirium d/t other cond", "Delirium due to conditions classified elsewhere", 0.9, condition("Delirium")),
    _dx("34830", "Encephalopathy NOS", "Encephalopathy, unspecified", 0.8, condition("Encephalopathy")),
    _dx("431", "Intracerebral hemorrhage", "Intracerebral hemorrhage", 0.8),
    _dx("430", "Subarachnoid hemorrhage", "Subarachnoid hemorrhage", 0.6),
    _dx("41519", "Pulm embol/infarct NEC", "Other pulmonary embolism and infarction", 0.7, condition("Pulmonary embolism")),
    _dx("1970", "Secondary malig neo lung", "Secondary malignant neoplasm of lung", 0.7),
    _dx("1983", "Sec mal neo brain/spine", "Secondary malignant neoplasm of brain and spinal cord", 0.6),
    _dx("2763", "Alkalosis", "Alkalosis", 0.6),
    _dx("27652", "Hypovolemia", "Hypovolemia", 0.6),
    _dx("78039", "Convulsions NEC", "Other convulsions", 0.8, condition("Seizure")),
    _dx("7907", "Bacteremia", "Bacteremia", 0.7),
    _dx("78820", "Retention urine NOS", "Retention of urine, unspecified", 0.6, condition("Retention of urine")),
    # A combination code: two Conditions (the diabetes and its renal complication).
    _dx("25040", "DMII renl nt st uncntrld",
        "Diabetes with renal manifestations, type II or unspecified type, not stated as uncontrolled", 0.9,
        condition("Type 2 diabetes mellitus"), condition("Diabetic renal disease")),
    _dx("25060", "DMII neuro nt st uncntrl",
        "Diabetes with neurological manifestations, type II or unspecified type, not stated as uncontrolled", 0.7,
        condition("Type 2 diabetes mellitus with neuropathy")),
    _dx("3572", "Neuropathy in diabetes", "Polyneuropathy in diabetes", 0.6, condition("Diabetic polyneuropathy")),
    # The infection (Condition) and the device complication (Observation).
    _dx("99662", "React-oth vasc dev/graft",
        "Infection and inflammatory reaction due to other vascular device, implant, and graft", 0.6,
        condition("Infection due to vascular device"), observation("Complication of vascular device")),
    _dx("99811", "Hemorrhage complic proc", "Hemorrhage complicating a procedure", 0.6,
        condition("Hemorrhage complicating procedure")),
    _dx("9971", "Surg compl-heart", "Cardiac complications, not elsewhere classified", 0.6),
    _dx("V1251", "Hx venous thrombosis/emb", "Personal history of venous thrombosis and embolism", 0.8),
    _dx("V4582", "Status-post ptca", "Percutaneous transluminal coronary angioplasty status", 1.3),
    _dx("V4501", "Status cardiac pacemaker", "Cardiac pacemaker in situ", 0.9),
    _dx("V1046", "Hx of prostatic malignan", "Personal history of malignant neoplasm of prostate", 0.6),
    _dx("V103", "Hx of breast malignancy", "Personal history of malignant neoplasm of breast", 0.6),
    _dx("V4986", "Do not resusctate status", "Do not resuscitate status", 1.2),
    _dx("E8782", "Abn react-anastom/graft",
        "Surgical operation with anastomosis, bypass, or graft, with natural or artificial tissues used as implant "
        "causing abnormal patient reaction, or later complication, without mention of misadventure at time of "
        "operation", 1.4),
    _dx("E8497", "Accid in resident instit", "Accidents occurring in residential institution", 1.5),
    _dx("E8788", "Abn react-surg proc NEC",
        "Other specified surgical operations and procedures causing abnormal patient reaction, or later "
        "complication, without mention of misadventure at time of operation", 1.0),
    _dx("E9342", "Adv eff anticoagulants", "Anticoagulants causing adverse effects in therapeutic use", 0.9),
    _dx("E8859", "Fall from slipping NEC", "Fall from other slipping, tripping, or stumbling", 0.8),
    _dx("E8490", "Accid in home", "Home accidents", 0.8),
    # Source-only codes: no 'Maps to' (the CDM records concept 0 and keeps the source concept).
    _dx("7999", "Ill-defined condition NEC", "Other unknown and unspecified cause of morbidity and mortality", 0.5,
        unmapped=True),
    _dx("E8499", "Accident NOS", "Accidents occurring in unspecified place", 0.6, unmapped=True),
    _dx("V6441", "Lap surg convert to open", "Laparoscopic surgical procedure converted to open procedure", 0.3,
        unmapped=True),
    # Newborns (NICU admissions).
    _dx("V053", "Need prphyl vc vrl hepat", "Need for prophylactic vaccination and inoculation against viral hepatitis",
        5.8, newborn=True),
    _dx("V290", "NB obsrv suspct infect", "Observation for suspected infectious condition", 5.5, newborn=True),
    _dx("V3000", "Single lb in-hosp w/o cs",
        "Single liveborn, born in hospital, delivered without mention of cesarean section", 3.6, newborn=True),
    _dx("V3001", "Single lb in-hosp w cs", "Single liveborn, born in hospital, delivered by cesarean section", 2.4,
        newborn=True),
    _dx("7742", "Neonat jaund preterm del", "Neonatal jaundice associated with preterm delivery", 2.0,
        condition("Neonatal jaundice"), newborn=True),
    _dx("76518", "Preterm NEC 2000-2499g", "Other preterm infants, 2,000-2,499 grams", 1.1,
        condition("Preterm infant"), newborn=True),
    _dx("76527", "33-34 comp wks gestation", "33-34 completed weeks of gestation", 1.1, newborn=True),
    _dx("7706", "NB transitory tachypnea", "Transitory tachypnea of newborn", 0.8, newborn=True),
    _dx("7746", "Fetal/neonatal jaund NOS", "Unspecified fetal and neonatal jaundice", 1.3,
        condition("Neonatal jaundice"), newborn=True),
    _dx("V502", "Routine circumcision", "Routine or ritual circumcision", 1.0, newborn=True),
    _dx("77081", "NB apnea", "Primary apnea of newborn", 0.5, newborn=True),
)


# ---------------------------------------------------------------------------- ICD-9 procedures


@dataclass(frozen=True)
class Procedure:
    code: str  # MIMIC style, no dot
    short_title: str
    long_title: str
    weight: float
    maps_to: tuple[Standard, ...]
    newborn: bool = False


def _px(code: str, short: str, long: str, weight: float, target: Standard | None = None, *,
        newborn: bool = False) -> Procedure:
    return Procedure(code, short, long, weight, (target or procedure(long),), newborn)


PROCEDURES: tuple[Procedure, ...] = (
    _px("3893", "Venous cath NEC", "Venous catheterization, not elsewhere classified", 14.7),
    _px("9604", "Insert endotracheal tube", "Insertion of endotracheal tube", 6.2),
    _px("9671", "Cont inv mec ven <96 hrs", "Continuous invasive mechanical ventilation for less than 96 consecutive hours",
        5.6),
    _px("9672", "Cont inv mec ven 96+ hrs", "Continuous invasive mechanical ventilation for 96 consecutive hours or more",
        4.2),
    _px("3961", "Extracorporeal circulat", "Extracorporeal circulation auxiliary to open heart surgery", 3.8),
    _px("8872", "Dx ultrasound-heart", "Diagnostic ultrasound of heart", 3.0, procedure("Echocardiography")),
    _px("9904", "Packed cell transfusion", "Transfusion of packed cells", 5.5),
    _px("3995", "Hemodialysis", "Hemodialysis", 2.0),
    _px("9915", "Parent infus nutrit sub", "Parenteral infusion of concentrated nutritional substances", 2.5),
    _px("966", "Entral infus nutrit sub", "Enteral infusion of concentrated nutritional substances", 3.0),
    _px("9390", "Non-invasive mech vent", "Non-invasive mechanical ventilation", 1.3),
    _px("3722", "Left heart cardiac cath", "Left heart cardiac catheterization", 2.2),
    _px("8856", "Coronar arteriogr-2 cath", "Coronary arteriography using two catheters", 2.0),
    _px("3615", "1 int mam-cor art bypass", "Single internal mammary-coronary artery bypass", 2.1),
    _px("3612", "Aortocor bypas-2 cor art", "(Aorto)coronary bypass of two coronary arteries", 1.1),
    _px("3891", "Arterial catheterization", "Arterial catheterization", 2.7),
    _px("0066", "PTCA", "Percutaneous transluminal coronary angioplasty [PTCA]", 1.6),
    _px("3607", "Ins drug-elut coronry st", "Insertion of drug-eluting coronary artery stent(s)", 1.2),
    _px("4311", "Percu endosc gastrostomy", "Percutaneous [endoscopic] gastrostomy [PEG]", 1.1),
    _px("311", "Temporary tracheostomy", "Temporary tracheostomy", 1.3),
    _px("5491", "Percu abdominal drainage", "Percutaneous abdominal drainage", 0.9),
    _px("3404", "Insert intercostal cath", "Insertion of intercostal catheter for drainage", 1.1),
    _px("9905", "Platelet transfusion", "Transfusion of platelets", 1.2),
    _px("9907", "Serum transfusion NEC", "Transfusion of other serum", 1.1),
    _px("4513", "Sm bowel endoscopy NEC", "Other endoscopy of small intestine", 1.0),
    # Diagnostic procedures whose result is the point: Measurement / Observation targets.
    _px("8952", "Electrocardiogram", "Electrocardiogram", 1.0, measurement("Electrocardiogram finding", "Clinical Observation")),
    _px("8964", "PA wedge monitoring", "Pulmonary artery wedge monitoring", 0.5,
        measurement("Pulmonary artery wedge pressure", "Clinical Observation")),
    _px("9339", "Physical therapy NEC", "Other physical therapy", 0.6, observation("Physical therapy assessment")),
    _px("9955", "Vaccination NEC", "Prophylactic administration of vaccine against other diseases", 6.0, newborn=True),
    _px("9983", "Other phototherapy", "Other phototherapy", 1.5, newborn=True),
    _px("640", "Circumcision", "Circumcision", 1.0, newborn=True),
    _px("9607", "Insert gastric tube NEC", "Insertion of other (naso-)gastric tube", 1.0, newborn=True),
)


# ---------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Unit:
    code: str  # MIMIC's spelling (VALUEUOM, UNITNAME, DOSE_UNIT_RX): the unit concept's concept_code
    name: str

    @property
    def standard(self) -> Standard:
        return Standard("Unit", self.name, "Unit", self.code)


UNITS: tuple[Unit, ...] = (
    Unit("mg/dL", "milligram per deciliter"),
    Unit("mEq/L", "milliequivalent per liter"),
    Unit("%", "percent"),
    Unit("K/uL", "thousand per microliter"),
    Unit("g/dL", "gram per deciliter"),
    Unit("mmol/L", "millimole per liter"),
    Unit("units", "pH units"),
    Unit("mm Hg", "millimeter mercury column"),
    Unit("sec", "second"),
    Unit("IU/L", "international unit per liter"),
    Unit("bpm", "beats per minute"),
    Unit("mmHg", "millimeter mercury column (charted)"),
    Unit("insp/min", "breaths per minute"),
    Unit("?F", "degree Fahrenheit"),
    Unit("cm", "centimeter"),
    Unit("kg", "kilogram"),
    Unit("mg", "milligram"),
    Unit("mEq", "milliequivalent"),
    Unit("mL", "milliliter"),
    Unit("UNIT", "unit"),
    Unit("gm", "gram"),
    Unit("mcg", "microgram"),
    Unit("TAB", "tablet"),
    Unit("NEB", "nebule"),
    Unit("DROP", "drop"),
    Unit("BPM", "breaths per minute (CareVue)"),
    Unit("points", "score points"),
)
UNIT_BY_CODE = {unit.code: unit for unit in UNITS}


# ---------------------------------------------------------------------------- lab items (D_LABITEMS)


@dataclass(frozen=True)
class LabItem:
    itemid: int
    label: str
    fluid: str
    category: str
    unit: str  # VALUEUOM ('' when MIMIC has none, e.g. INR)
    low: float  # normal range: values outside are flagged 'abnormal'
    high: float
    center: float  # mean (normal) or median (log-normal) of the values
    spread: float  # sd (normal) or sd of log (log-normal)
    lognormal: bool
    decimals: int
    panel: str  # the order set it is drawn with: items of a panel share a CHARTTIME
    maps_to: Standard


def _lab(itemid, label, fluid, category, unit, low, high, center, spread, decimals, panel, name, lognormal=False):
    return LabItem(itemid, label, fluid, category, unit, low, high, center, spread, lognormal, decimals, panel,
                   measurement(name))


LAB_ITEMS: tuple[LabItem, ...] = (
    _lab(50912, "Creatinine", "Blood", "Chemistry", "mg/dL", 0.5, 1.2, 1.1, 0.55, 1, "chem", "Creatinine, serum", True),
    _lab(51006, "Urea Nitrogen", "Blood", "Chemistry", "mg/dL", 6, 20, 22, 0.6, 0, "chem", "Urea nitrogen, serum", True),
    _lab(50971, "Potassium", "Blood", "Chemistry", "mEq/L", 3.3, 5.1, 4.1, 0.55, 1, "chem", "Potassium, serum"),
    _lab(50983, "Sodium", "Blood", "Chemistry", "mEq/L", 133, 145, 138.5, 4.5, 0, "chem", "Sodium, serum"),
    _lab(50902, "Chloride", "Blood", "Chemistry", "mEq/L", 96, 108, 104, 5.5, 0, "chem", "Chloride, serum"),
    _lab(50882, "Bicarbonate", "Blood", "Chemistry", "mEq/L", 22, 32, 25, 4.5, 0, "chem", "Bicarbonate, serum"),
    _lab(50868, "Anion Gap", "Blood", "Chemistry", "mEq/L", 8, 20, 13.5, 3.5, 0, "chem", "Anion gap, serum"),
    _lab(50931, "Glucose", "Blood", "Chemistry", "mg/dL", 70, 105, 128, 0.3, 0, "chem", "Glucose, serum", True),
    _lab(50960, "Magnesium", "Blood", "Chemistry", "mg/dL", 1.6, 2.6, 2.0, 0.3, 1, "lytes", "Magnesium, serum"),
    _lab(50893, "Calcium, Total", "Blood", "Chemistry", "mg/dL", 8.4, 10.3, 8.5, 0.65, 1, "lytes", "Calcium, serum"),
    _lab(51301, "White Blood Cells", "Blood", "Hematology", "K/uL", 4.0, 11.0, 9.5, 0.45, 1, "cbc",
         "Leukocyte count, blood", True),
    _lab(51222, "Hemoglobin", "Blood", "Hematology", "g/dL", 12.0, 16.0, 10.4, 1.9, 1, "cbc", "Hemoglobin, blood"),
    _lab(51221, "Hematocrit", "Blood", "Hematology", "%", 36.0, 48.0, 30.9, 5.6, 1, "cbc", "Hematocrit, blood"),
    _lab(51265, "Platelet Count", "Blood", "Hematology", "K/uL", 150, 440, 210, 0.5, 0, "cbc", "Platelet count, blood", True),
    _lab(51237, "INR(PT)", "Blood", "Hematology", "", 0.9, 1.1, 1.3, 0.25, 1, "coag", "INR, blood", True),
    _lab(51274, "PT", "Blood", "Hematology", "sec", 10.4, 13.4, 14.2, 0.18, 1, "coag", "Prothrombin time", True),
    _lab(51275, "PTT", "Blood", "Hematology", "sec", 22.0, 35.0, 33.0, 0.3, 1, "coag", "Partial thromboplastin time", True),
    _lab(50813, "Lactate", "Blood", "Blood Gas", "mmol/L", 0.5, 2.0, 1.6, 0.55, 1, "gas", "Lactate, blood", True),
    _lab(50820, "pH", "Blood", "Blood Gas", "units", 7.35, 7.45, 7.38, 0.07, 2, "gas", "pH, arterial blood"),
    _lab(50821, "pO2", "Blood", "Blood Gas", "mm Hg", 85, 105, 120, 0.45, 0, "gas", "Oxygen partial pressure, arterial", True),
    _lab(50818, "pCO2", "Blood", "Blood Gas", "mm Hg", 35, 45, 41, 8.0, 0, "gas", "Carbon dioxide partial pressure, arterial"),
    _lab(50885, "Bilirubin, Total", "Blood", "Chemistry", "mg/dL", 0, 1.5, 0.8, 0.9, 1, "lft", "Bilirubin total, serum", True),
    _lab(50861, "Alanine Aminotransferase (ALT)", "Blood", "Chemistry", "IU/L", 0, 40, 32, 0.9, 0, "lft",
         "Alanine aminotransferase, serum", True),
    _lab(50878, "Asparate Aminotransferase (AST)", "Blood", "Chemistry", "IU/L", 0, 40, 38, 0.9, 0, "lft",
         "Aspartate aminotransferase, serum", True),
    _lab(50862, "Albumin", "Blood", "Chemistry", "g/dL", 3.4, 4.8, 3.1, 0.6, 1, "lft", "Albumin, serum"),
)
# How often each panel is ordered (relative): a chemistry panel far more often than LFTs.
LAB_PANELS = {"chem": 30, "cbc": 28, "lytes": 18, "coag": 12, "gas": 8, "lft": 5}


# ---------------------------------------------------------------------------- chart items (D_ITEMS)


@dataclass(frozen=True)
class ChartItem:
    itemid: int
    label: str
    abbreviation: str
    dbsource: str  # 'carevue' or 'metavision': charted only in ICU stays of that source
    category: str
    unit: str
    param_type: str  # 'Numeric' or 'Text'
    weight: float  # relative charting frequency within its source
    center: float = 0.0
    spread: float = 0.0
    decimals: int = 0
    values: tuple[tuple[str, float | None], ...] = ()  # coded items: (VALUE, VALUENUM or None)
    low: float = float("-inf")  # physiological bounds the values are clipped to
    high: float = float("inf")

    @property
    def numeric(self) -> bool:
        return not self.values or self.values[0][1] is not None

    @property
    def maps_to(self) -> tuple[Standard, ...]:
        # Numeric items are measurements; text-valued ones observations.
        if self.numeric:
            return (measurement(_CHART_CONCEPTS[self.label], "Clinical Observation"),)
        return (observation(_CHART_CONCEPTS[self.label]),)


_CHART_CONCEPTS = {
    "Heart Rate": "Heart rate", "Respiratory Rate": "Respiratory rate", "SpO2": "Oxygen saturation by pulse oximetry",
    "Arterial BP [Systolic]": "Systolic blood pressure, arterial", "Arterial BP [Diastolic]": "Diastolic blood pressure, arterial",
    "Temperature F": "Body temperature", "GCS Total": "Glasgow coma score total", "Admit Wt": "Body weight",
    "Code Status": "Resuscitation status", "Non Invasive Blood Pressure systolic": "Systolic blood pressure",
    "Non Invasive Blood Pressure diastolic": "Diastolic blood pressure", "O2 saturation pulseoxymetry": "Oxygen saturation by pulse oximetry",
    "Temperature Fahrenheit": "Body temperature", "GCS - Eye Opening": "Glasgow coma score eye opening",
    "Height (cm)": "Body height", "Admission Weight (Kg)": "Body weight", "Head of Bed": "Head of bed position",
}
_CODE_STATUS = (("Full Code", None), ("DNR / DNI", None), ("DNR (do not resuscitate)", None), ("Comfort measures only", None))
_GCS_EYE = (("Spontaneously", 4.0), ("To Speech", 3.0), ("To Pain", 2.0), ("No Response", 1.0))

CHART_ITEMS: tuple[ChartItem, ...] = (
    ChartItem(211, "Heart Rate", "", "carevue", "", "bpm", "Numeric", 20, 86, 17, 0, low=25, high=220),
    ChartItem(618, "Respiratory Rate", "", "carevue", "", "BPM", "Numeric", 18, 19, 5, 0, low=4, high=60),
    ChartItem(646, "SpO2", "", "carevue", "", "%", "Numeric", 18, 97, 2.5, 0, low=60, high=100),
    ChartItem(51, "Arterial BP [Systolic]", "", "carevue", "", "mmHg", "Numeric", 12, 120, 21, 0, low=50, high=230),
    ChartItem(8368, "Arterial BP [Diastolic]", "", "carevue", "", "mmHg", "Numeric", 12, 60, 12, 0, low=20, high=140),
    ChartItem(678, "Temperature F", "", "carevue", "", "?F", "Numeric", 6, 98.6, 1.2, 1, low=90, high=107),
    ChartItem(198, "GCS Total", "", "carevue", "", "points", "Numeric", 4, 12, 3.5, 0, low=3, high=15),
    ChartItem(762, "Admit Wt", "", "carevue", "", "kg", "Numeric", 0.3, 80, 20, 1, low=35, high=250),
    ChartItem(128, "Code Status", "", "carevue", "", "", "Text", 0.8, values=_CODE_STATUS),
    ChartItem(220045, "Heart Rate", "HR", "metavision", "Routine Vital Signs", "bpm", "Numeric", 20, 86, 17, 0, low=25, high=220),
    ChartItem(220179, "Non Invasive Blood Pressure systolic", "NBPs", "metavision", "Routine Vital Signs", "mmHg",
              "Numeric", 12, 121, 21, 0, low=50, high=230),
    ChartItem(220180, "Non Invasive Blood Pressure diastolic", "NBPd", "metavision", "Routine Vital Signs", "mmHg",
              "Numeric", 12, 63, 13, 0, low=20, high=140),
    ChartItem(220210, "Respiratory Rate", "RR", "metavision", "Respiratory", "insp/min", "Numeric", 18, 19, 5, 0, low=4, high=60),
    ChartItem(220277, "O2 saturation pulseoxymetry", "SpO2", "metavision", "Respiratory", "%", "Numeric", 18, 97, 2.5, 0,
              low=60, high=100),
    ChartItem(223761, "Temperature Fahrenheit", "Temperature F", "metavision", "Routine Vital Signs", "?F", "Numeric",
              6, 98.6, 1.2, 1, low=90, high=107),
    ChartItem(220739, "GCS - Eye Opening", "GCS - Eye Opening", "metavision", "Neurological", "", "Text", 4, values=_GCS_EYE),
    ChartItem(226730, "Height (cm)", "Height (cm)", "metavision", "General", "cm", "Numeric", 0.2, 169, 10, 0, low=45, high=215),
    ChartItem(226512, "Admission Weight (Kg)", "Admission Weight (Kg)", "metavision", "General", "kg", "Numeric", 0.3,
              80, 20, 1, low=1, high=250),
    ChartItem(223758, "Code Status", "Code Status", "metavision", "General", "", "Text", 0.8, values=_CODE_STATUS),
    ChartItem(224080, "Head of Bed", "Head of Bed", "metavision", "Treatments", "", "Text", 2,
              values=(("30 Degrees", None), ("45 Degrees", None), ("Flat", None), ("15 Degrees", None))),
)


# ---------------------------------------------------------------------------- prescriptions


@dataclass(frozen=True)
class Drug:
    drug: str  # DRUG (= DRUG_NAME_POE)
    generic: str  # DRUG_NAME_GENERIC
    formulary_drug_cd: str  # unique: the concept_code of the 'MIMIC drugs' source concept
    prod_strength: str
    dose_unit: str  # DOSE_UNIT_RX
    route: str
    form_unit: str  # FORM_UNIT_DISP
    doses: tuple[tuple[str, str], ...]  # (DOSE_VAL_RX, FORM_VAL_DISP) choices
    weight: float
    ingredient: str
    drug_type: str = "MAIN"  # MAIN | BASE | ADDITIVE
    newborn: bool = False

    @property
    def maps_to(self) -> tuple[Standard, ...]:
        return (ingredient(self.ingredient),)


DRUGS: tuple[Drug, ...] = (
    Drug("Potassium Chloride", "Potassium Chloride", "KCL20PM", "20mEq Packet", "mEq", "PO", "PKT",
         (("20", "1"), ("40", "2")), 9, "potassium chloride"),
    Drug("Acetaminophen", "Acetaminophen", "ACET325", "325mg Tablet", "mg", "PO", "TAB", (("650", "2"), ("325", "1")), 7,
         "acetaminophen"),
    Drug("Sodium Chloride 0.9%  Flush", "Sodium Chloride 0.9%  Flush", "NACLFLUSH", "10 mL Syringe", "mL", "IV", "SYR",
         (("3", "0.3"), ("10", "1")), 8, "sodium chloride"),
    Drug("Insulin", "Insulin - Sliding Scale", "INSULIN", "100 Units / mL - 10 mL Vial", "UNIT", "SC", "VIAL",
         (("0", "0"),), 7, "insulin regular, human"),
    Drug("Heparin", "Heparin Sodium", "HEPA5I", "5000 Units / mL- 1mL Vial", "UNIT", "SC", "VIAL", (("5000", "1"),), 6,
         "heparin"),
    Drug("Furosemide", "Furosemide", "FURO40I", "40mg/4mL Vial", "mg", "IV", "VIAL", (("40", "1"), ("20", "0.5")), 6,
         "furosemide"),
    Drug("Docusate Sodium", "Docusate Sodium", "DOCU100", "100mg Capsule", "mg", "PO", "CAP", (("100", "1"),), 5,
         "docusate"),
    Drug("Metoprolol Tartrate", "Metoprolol Tartrate", "METO25", "25mg Tablet", "mg", "PO", "TAB",
         (("25", "1"), ("12.5", "0.5"), ("50", "2")), 6, "metoprolol"),
    Drug("Magnesium Sulfate", "Magnesium Sulfate", "MAG2PM", "2 g / 50 mL Premix Bag", "gm", "IV", "BAG",
         (("2", "1"),), 6, "magnesium sulfate"),
    Drug("Senna", "Senna", "SENN187", "1 Tablet", "TAB", "PO", "TAB", (("1", "1"), ("2", "2")), 4, "sennosides"),
    Drug("D5W", "Dextrose 5%", "D5W250", "250 mL Bag", "mL", "IV", "BAG", (("250", "1"),), 4, "glucose",
         drug_type="BASE"),
    Drug("Pantoprazole", "Pantoprazole Sodium", "PANT40", "40mg Tablet", "mg", "PO", "TAB", (("40", "1"),), 5,
         "pantoprazole"),
    Drug("Vancomycin", "Vancomycin HCl", "VANC1F", "1g Frozen Bag", "mg", "IV", "BAG", (("1000", "1"), ("1250", "1")), 5,
         "vancomycin"),
    Drug("Morphine Sulfate", "Morphine Sulfate", "MORP2I", "2mg Syringe", "mg", "IV", "SYR", (("2", "1"), ("4", "2")), 4,
         "morphine"),
    Drug("Ondansetron", "Ondansetron", "ONDAN2I", "2mg/mL-2mL", "mg", "IV", "VIAL", (("4", "1"),), 4, "ondansetron"),
    Drug("Bisacodyl", "Bisacodyl", "BISA5", "5 mg Tab", "mg", "PO", "TAB", (("10", "2"),), 3, "bisacodyl"),
    Drug("Aspirin", "Aspirin", "ASA81", "81mg Chewable Tablet", "mg", "PO", "TAB", (("81", "1"), ("325", "4")), 4,
         "aspirin"),
    Drug("Calcium Gluconate", "Calcium Gluconate", "CALG1I", "1 gm / 10 mL vial", "gm", "IV", "VIAL", (("1", "1"), ("2", "2")),
         3, "calcium gluconate"),
    Drug("Lorazepam", "Lorazepam", "LORA2I", "2mg/mL Vial", "mg", "IV", "VIAL", (("1", "0.5"), ("0.5", "0.25")), 2,
         "lorazepam"),
    Drug("Albuterol 0.083% Neb Soln", "Albuterol 0.083% Neb Soln", "ALBU3H", "1 Neb", "NEB", "IH", "NEB", (("1", "1"),), 3,
         "albuterol"),
    Drug("Ipratropium Bromide Neb", "Ipratropium Bromide Neb", "IPRA2H", "0.5mg/2.5mL Unit Dose", "NEB", "IH", "NEB",
         (("1", "1"),), 2, "ipratropium"),
    Drug("Atorvastatin", "Atorvastatin", "ATOR10", "10mg Tablet", "mg", "PO", "TAB", (("10", "1"), ("40", "4"), ("80", "8")), 3,
         "atorvastatin"),
    Drug("Lisinopril", "Lisinopril", "LISI5", "5mg Tablet", "mg", "PO", "TAB", (("5", "1"), ("10", "2")), 2, "lisinopril"),
    Drug("Warfarin", "Warfarin", "WARF5", "5mg Tablet", "mg", "PO", "TAB", (("5", "1"), ("2.5", "0.5")), 2, "warfarin"),
    Drug("Piperacillin-Tazobactam Na", "Piperacillin-Tazobactam Na", "PIPT4.5F", "4.5 g Frozen Bag", "gm", "IV", "BAG",
         (("4.5", "1"),), 2, "piperacillin / tazobactam"),
    Drug("Propofol", "Propofol", "PROP100IG", "100mg Vial", "mg", "IV DRIP", "VIAL", (("1000", "10"),), 2, "propofol"),
    Drug("Fentanyl Citrate", "Fentanyl Citrate", "FENT2I", "100mcg/2mL Ampule", "mcg", "IV", "AMP", (("25", "0.25"), ("50", "0.5")),
         2, "fentanyl"),
    Drug("Famotidine", "Famotidine", "FAMO20", "20mg Tablet", "mg", "PO/NG", "TAB", (("20", "1"),), 2, "famotidine"),
    Drug("Norepinephrine", "Norepinephrine", "NORE4I", "4mg/250mL Premix", "mg", "IV DRIP", "BAG", (("4", "1"),), 1.5,
         "norepinephrine"),
    Drug("Sodium Chloride 0.9%", "Sodium Chloride 0.9%", "NS1000", "1000mL Bag", "mL", "IV", "BAG", (("1000", "1"),), 4,
         "sodium chloride", drug_type="BASE"),
    Drug("Ceftriaxone", "Ceftriaxone", "CEFT1F", "1gm Frozen Bag", "gm", "IV", "BAG", (("1", "1"), ("2", "2")), 2,
         "ceftriaxone"),
    Drug("Hepatitis B Vaccine", "Hepatitis B Vaccine", "HEPBVAC", "10mcg/0.5mL Syringe", "mcg", "IM", "SYR", (("10", "1"),),
         5, "hepatitis B surface antigen vaccine", newborn=True),
    Drug("Erythromycin 0.5% Ophth Oint", "Erythromycin 0.5% Ophth Oint", "ERYT0.5OI", "1g Tube", "DROP", "BOTH EYES",
         "TUBE", (("0.5", "0.5"),), 5, "erythromycin", newborn=True),
    Drug("Phytonadione", "Phytonadione", "PHYT1I", "1mg/0.5mL Ampule", "mg", "IM", "AMP", (("1", "0.5"),), 5,
         "vitamin K1", newborn=True),
    Drug("NEO*IV*Gentamicin", "Gentamicin Sulfate", "GENT10I", "10mg/mL Vial", "mg", "IV", "VIAL", (("5", "0.5"),), 2,
         "gentamicin", newborn=True),
    Drug("Ampicillin Sodium", "Ampicillin Sodium", "AMPI500I", "500mg Vial", "mg", "IV", "VIAL", (("250", "0.5"),), 2,
         "ampicillin", newborn=True),
)


def ndc(index: int, drug: Drug) -> str:
    """Synthetic 11-digit NDC (labeler 99999 is not a real one); base solutions have '0', as in MIMIC."""
    return "0" if drug.drug_type == "BASE" else f"99999{index:06d}"


# ---------------------------------------------------------------------------- care units, services, demographics

# ICU care units and the ward ids they occupy; newborns go to the NICU.
CARE_UNITS = {"MICU": (50, 52, 23), "SICU": (33, 57), "CCU": (7, 57), "CSRU": (14, 15), "TSICU": (14, 33), "NICU": (56,)}
ADULT_CARE_UNITS = {"MICU": 35, "SICU": 15, "CCU": 15, "CSRU": 20, "TSICU": 15}
WARDS = (2, 3, 4, 6, 12, 17, 22, 24, 27, 31, 36, 45)  # non-ICU wards
NEWBORN_WARDS = (53, 55)  # well-baby nursery
# Services by the first care unit of the admission (ward-only admissions draw from MED's list).
SERVICES = {
    "MICU": {"MED": 70, "OMED": 15, "NMED": 15},
    "SICU": {"SURG": 40, "VSURG": 20, "NSURG": 25, "ORTHO": 15},
    "CCU": {"CMED": 100},
    "CSRU": {"CSURG": 90, "CMED": 10},
    "TSICU": {"TRAUMA": 55, "NSURG": 30, "TSURG": 15},
    "NICU": {"NB": 85, "NBB": 15},
    "": {"MED": 50, "SURG": 15, "CMED": 15, "OMED": 10, "ORTHO": 10},
}
ADMISSION_TYPES = {"EMERGENCY": 71, "ELECTIVE": 17, "URGENT": 3}  # adults; newborns are NEWBORN
ADMISSION_LOCATIONS = {
    "EMERGENCY": {"EMERGENCY ROOM ADMIT": 60, "TRANSFER FROM HOSP/EXTRAM": 20, "CLINIC REFERRAL/PREMATURE": 15,
                  "TRANSFER FROM SKILLED NUR": 3, "TRANSFER FROM OTHER HEALT": 2},
    "ELECTIVE": {"PHYS REFERRAL/NORMAL DELI": 95, "** INFO NOT AVAILABLE **": 5},
    "URGENT": {"TRANSFER FROM HOSP/EXTRAM": 60, "PHYS REFERRAL/NORMAL DELI": 25, "CLINIC REFERRAL/PREMATURE": 15},
    "NEWBORN": {"PHYS REFERRAL/NORMAL DELI": 70, "CLINIC REFERRAL/PREMATURE": 30},
}
DISCHARGE_LOCATIONS = {"HOME": 30, "HOME HEALTH CARE": 22, "SNF": 16, "REHAB/DISTINCT PART HOSP": 10,
                       "LONG TERM CARE HOSPITAL": 3, "SHORT TERM HOSPITAL": 2, "HOSPICE-HOME": 1,
                       "LEFT AGAINST MEDICAL ADVI": 1, "DISC-TRAN CANCER/CHLDRN H": 1, "HOME WITH HOME IV PROVIDR": 1}
NEWBORN_DISCHARGE_LOCATIONS = {"HOME": 80, "HOME HEALTH CARE": 15, "SHORT TERM HOSPITAL": 5}
DEAD = "DEAD/EXPIRED"
INSURANCE = {"Medicare": 48, "Private": 38, "Medicaid": 10, "Government": 3, "Self Pay": 1}
NEWBORN_INSURANCE = {"Private": 75, "Medicaid": 22, "Government": 3}
LANGUAGES = {"ENGL": 88, "SPAN": 4, "RUSS": 2, "PTUN": 2, "CANT": 1, "HAIT": 1, "": 2}
RELIGIONS = {"CATHOLIC": 36, "NOT SPECIFIED": 20, "UNOBTAINABLE": 14, "PROTESTANT QUAKER": 12, "JEWISH": 9,
             "OTHER": 4, "EPISCOPALIAN": 2, "GREEK ORTHODOX": 1, "CHRISTIAN SCIENTIST": 1, "BUDDHIST": 1}
MARITAL_STATUSES = {"MARRIED": 45, "SINGLE": 27, "WIDOWED": 14, "DIVORCED": 7, "SEPARATED": 1,
                    "UNKNOWN (DEFAULT)": 1, "LIFE PARTNER": 0.5, "": 4.5}


@dataclass(frozen=True)
class Ethnicity:
    value: str  # ADMISSIONS.ETHNICITY
    weight: float
    race_concept_id: int  # OMOP Race concept (0: unknown)
    ethnicity_concept_id: int  # OMOP Ethnicity concept (0: unknown)


WHITE, BLACK, ASIAN, AIAN, NHPI = 8527, 8516, 8515, 8657, 8557
HISPANIC, NOT_HISPANIC = 38003563, 38003564
ETHNICITIES: tuple[Ethnicity, ...] = (
    Ethnicity("WHITE", 69, WHITE, NOT_HISPANIC),
    Ethnicity("BLACK/AFRICAN AMERICAN", 9, BLACK, NOT_HISPANIC),
    Ethnicity("UNKNOWN/NOT SPECIFIED", 7.5, 0, 0),
    Ethnicity("HISPANIC OR LATINO", 2.9, 0, HISPANIC),
    Ethnicity("OTHER", 2.6, 0, 0),
    Ethnicity("ASIAN", 2.6, ASIAN, NOT_HISPANIC),
    Ethnicity("UNABLE TO OBTAIN", 1.4, 0, 0),
    Ethnicity("PATIENT DECLINED TO ANSWER", 0.9, 0, 0),
    Ethnicity("ASIAN - CHINESE", 0.5, ASIAN, NOT_HISPANIC),
    Ethnicity("HISPANIC/LATINO - PUERTO RICAN", 0.4, 0, HISPANIC),
    Ethnicity("BLACK/CAPE VERDEAN", 0.4, BLACK, NOT_HISPANIC),
    Ethnicity("WHITE - RUSSIAN", 0.4, WHITE, NOT_HISPANIC),
    Ethnicity("MULTI RACE ETHNICITY", 0.2, 0, 0),
    Ethnicity("AMERICAN INDIAN/ALASKA NATIVE", 0.1, AIAN, NOT_HISPANIC),
    Ethnicity("NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER", 0.05, NHPI, NOT_HISPANIC),
)
GENDERS = {"M": 8507, "F": 8532}  # PATIENTS.GENDER -> OMOP Gender concept
# ADMISSION_TYPE -> OMOP Visit concept (emergency admissions came through the ER).
VISIT_CONCEPTS = {"EMERGENCY": 262, "URGENT": 9201, "ELECTIVE": 9201, "NEWBORN": 9201}
INTENSIVE_CARE = 32037  # visit_detail concept of an ICU stay

CAREGIVER_LABELS = {"RN": ("RN", 45), "MD": ("Resident/Fellow/PA/NP", 20), "Res": ("Resident/Fellow/PA/NP", 10),
                    "RT": ("Respiratory", 10), "PCT": ("Pharmacist", 5), "Rehab": ("Rehabilitation", 5),
                    "NP": ("Resident/Fellow/PA/NP", 5)}
