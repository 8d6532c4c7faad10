{#- OMOP CDM data quality checks after OHDSI's Data Quality Dashboard (DQD).

    One macro per check computes a single row (num_violated_rows, num_denominator_rows);
    omop_dq_measure adds pct_violated and threshold_pct. The generic tests (dq_tests.sql)
    return that row only when pct_violated > threshold_pct; the omop_dq_results model
    unions the same SQL for every such test in the graph, so both report the same numbers.
    Thresholds and severity come from platform/policies/clinical_quality.yaml via the
    generated model YAMLs. Concept 0 ("No matching concept") always counts as existing. -#}

{% macro omop_dq_measure(check, model, column_name, args) -%}
select
    num_violated_rows,
    num_denominator_rows,
    case
        when num_denominator_rows = 0 then 0.0
        else 100.0 * num_violated_rows / num_denominator_rows
    end as pct_violated,
    {{ args.threshold_pct }} as threshold_pct
from (
    {{ omop_dq_counts(check, model, column_name, args) }}
) as counts
{%- endmacro %}

{% macro omop_dq_test(check, model, column_name, args) -%}
select *
from (
    {{ omop_dq_measure(check, model, column_name, args) }}
) as measured
where pct_violated > {{ args.threshold_pct }}
{%- endmacro %}

{% macro omop_dq_counts(check, model, column_name, args) -%}
    {%- if check == 'primary_key_unique' -%}{{ omop_dq__primary_key_unique(model, column_name, args) }}
    {%- elif check == 'required_present' -%}{{ omop_dq__required_present(model, column_name, args) }}
    {%- elif check == 'foreign_key_exists' -%}{{ omop_dq__foreign_key_exists(model, column_name, args) }}
    {%- elif check == 'fk_domain' -%}{{ omop_dq__fk_domain(model, column_name, args) }}
    {%- elif check == 'standard_valid_concept' -%}{{ omop_dq__standard_valid_concept(model, column_name, args) }}
    {%- elif check == 'standard_concept_completeness' -%}{{ omop_dq__standard_concept_completeness(model, column_name, args) }}
    {%- elif check == 'source_concept_completeness' -%}{{ omop_dq__source_concept_completeness(model, column_name, args) }}
    {%- elif check == 'source_value_completeness' -%}{{ omop_dq__source_value_completeness(model, column_name, args) }}
    {%- elif check == 'start_before_end' -%}{{ omop_dq__start_before_end(model, column_name, args) }}
    {%- elif check == 'after_birth' -%}{{ omop_dq__after_birth(model, column_name, args) }}
    {%- elif check == 'before_death' -%}{{ omop_dq__before_death(model, column_name, args) }}
    {%- elif check == 'within_observation_period' -%}{{ omop_dq__within_observation_period(model, column_name, args) }}
    {%- elif check == 'no_overlapping_observation_periods' -%}{{ omop_dq__no_overlapping_observation_periods(model, column_name, args) }}
    {%- else -%}{{ exceptions.raise_compiler_error("unknown OMOP DQ check " ~ check) }}
    {%- endif -%}
{%- endmacro %}

{#- ----------------------------------------------------------------- conformance -#}

{#- isPrimaryKey: rows whose key value occurs more than once. -#}
{% macro omop_dq__primary_key_unique(model, column_name, args) -%}
select
    coalesce(sum(case when n_rows > 1 then n_rows else 0 end), 0) as num_violated_rows,
    coalesce(sum(n_rows), 0) as num_denominator_rows
from (
    select {{ column_name }}, count(*) as n_rows
    from {{ model }}
    group by {{ column_name }}
) as keys
{%- endmacro %}

{#- isRequired: rows where the field is null. -#}
{% macro omop_dq__required_present(model, column_name, args) -%}
select
    coalesce(sum(case when {{ column_name }} is null then 1 else 0 end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }}
{%- endmacro %}

{#- isForeignKey: rows with a value that the referenced table does not hold. -#}
{% macro omop_dq__foreign_key_exists(model, column_name, args) -%}
select
    coalesce(sum(case
        when src.{{ column_name }} is not null
            {%- if args.to_table == 'concept' %} and src.{{ column_name }} <> 0{% endif %}
            and ref_keys.key_value is null then 1
        else 0
    end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }} as src
left join (
    select distinct {{ args.to_field }} as key_value
    from {{ ref(args.to_table) }}
) as ref_keys on src.{{ column_name }} = ref_keys.key_value
{%- endmacro %}

{#- fkDomain: rows whose concept belongs to another domain. -#}
{% macro omop_dq__fk_domain(model, column_name, args) -%}
select
    coalesce(sum(case
        when concept.concept_id is not null and concept.domain_id <> '{{ args.domain_id | replace("'", "''") }}' then 1
        else 0
    end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }} as src
left join {{ ref('concept') }} as concept
    on src.{{ column_name }} = concept.concept_id and src.{{ column_name }} <> 0
{%- endmacro %}

{#- isStandardValidConcept: rows whose concept is not standard ('S') or is invalidated. -#}
{% macro omop_dq__standard_valid_concept(model, column_name, args) -%}
select
    coalesce(sum(case
        when concept.concept_id is not null
            and (concept.standard_concept is null or concept.standard_concept <> 'S'
                or concept.invalid_reason is not null) then 1
        else 0
    end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }} as src
left join {{ ref('concept') }} as concept
    on src.{{ column_name }} = concept.concept_id and src.{{ column_name }} <> 0
{%- endmacro %}

{#- ----------------------------------------------------------------- completeness -#}

{#- standardConceptRecordCompleteness: rows mapped to concept 0. For units, only rows with a
    numeric value (`when_present`), as in DQD. -#}
{% macro omop_dq__standard_concept_completeness(model, column_name, args) -%}
select
    coalesce(sum(case when {{ column_name }} = 0 then 1 else 0 end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }}
{%- if args.when_present %}
where {{ args.when_present }} is not null
{%- endif %}
{%- endmacro %}

{#- sourceConceptRecordCompleteness: rows whose source concept is 0, i.e. whose source code is
    not in the vocabulary at all. -#}
{% macro omop_dq__source_concept_completeness(model, column_name, args) -%}
select
    coalesce(sum(case when {{ column_name }} = 0 then 1 else 0 end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }}
{%- endmacro %}

{#- sourceValueCompleteness: distinct source values whose concept field is 0. -#}
{% macro omop_dq__source_value_completeness(model, column_name, args) -%}
select
    count(distinct case when {{ args.concept_field }} = 0 then {{ column_name }} end) as num_violated_rows,
    count(distinct {{ column_name }}) as num_denominator_rows
from {{ model }}
{%- endmacro %}

{#- ----------------------------------------------------------------- plausibility -#}

{#- plausibleStartBeforeEnd: rows whose start date is after their end date. -#}
{% macro omop_dq__start_before_end(model, column_name, args) -%}
select
    coalesce(sum(case when {{ column_name }} > {{ args.end_field }} then 1 else 0 end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }}
{%- endmacro %}

{#- plausibleAfterBirth: event dates before the person's birth (day of birth_datetime, else
    year_of_birth). -#}
{% macro omop_dq__after_birth(model, column_name, args) -%}
select
    coalesce(sum(case
        when person.birth_datetime is not null
            and cast(src.{{ column_name }} as date) < cast(person.birth_datetime as date) then 1
        when person.birth_datetime is null
            and extract(year from src.{{ column_name }}) < person.year_of_birth then 1
        else 0
    end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }} as src
left join {{ ref('person') }} as person on src.person_id = person.person_id
{%- endmacro %}

{#- plausibleBeforeDeath: event dates more than 60 days after the person's death. -#}
{% macro omop_dq__before_death(model, column_name, args) -%}
select
    coalesce(sum(case
        when cast(src.{{ column_name }} as date) > {{ dbt.dateadd('day', 60, 'death.death_date') }} then 1
        else 0
    end), 0) as num_violated_rows,
    count(*) as num_denominator_rows
from {{ model }} as src
left join (
    select person_id, min(death_date) as death_date
    from {{ ref('death') }}
    group by person_id
) as death on src.person_id = death.person_id
{%- endmacro %}

{#- Events whose date lies in none of the person's observation periods. -#}
{% macro omop_dq__within_observation_period(model, column_name, args) -%}
select
    coalesce(sum(case when covered.person_id is null then events.n_rows else 0 end), 0) as num_violated_rows,
    coalesce(sum(events.n_rows), 0) as num_denominator_rows
from (
    select person_id, cast({{ column_name }} as date) as event_date, count(*) as n_rows
    from {{ model }}
    group by person_id, cast({{ column_name }} as date)
) as events
left join (
    select distinct event_days.person_id, event_days.event_date
    from (
        select distinct person_id, cast({{ column_name }} as date) as event_date
        from {{ model }}
    ) as event_days
    inner join {{ ref('observation_period') }} as op
        on event_days.person_id = op.person_id
        and event_days.event_date >= op.observation_period_start_date
        and event_days.event_date <= op.observation_period_end_date
) as covered on events.person_id = covered.person_id and events.event_date = covered.event_date
{%- endmacro %}

{#- Observation periods that overlap another period of the same person (THEMIS: overlapping
    or adjacent periods must be merged). A model-level check on observation_period. -#}
{% macro omop_dq__no_overlapping_observation_periods(model, column_name, args) -%}
select
    overlapping.num_violated_rows,
    periods.num_denominator_rows
from (
    select count(distinct a.observation_period_id) as num_violated_rows
    from {{ model }} as a
    inner join {{ model }} as b
        on a.person_id = b.person_id
        and a.observation_period_id <> b.observation_period_id
        and a.observation_period_start_date <= b.observation_period_end_date
        and b.observation_period_start_date <= a.observation_period_end_date
) as overlapping
cross join (select count(*) as num_denominator_rows from {{ model }}) as periods
{%- endmacro %}
