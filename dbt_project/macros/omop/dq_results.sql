{#- The CDM tables (as models) in the order of the spec's groups; the omop_dq_results model
    depends on all of them. tests/unit/test_omop_dq.py checks this list against
    assets.clinical.omop_spec.CDM_TABLES. -#}
{% macro omop_cdm_tables() -%}
    {{ return([
        'person', 'observation_period', 'visit_occurrence', 'visit_detail', 'condition_occurrence',
        'procedure_occurrence', 'drug_exposure', 'measurement', 'observation', 'death',
        'care_site', 'provider', 'location', 'cdm_source',
        'concept', 'vocabulary', 'domain', 'concept_class', 'concept_relationship', 'relationship',
        'concept_synonym', 'concept_ancestor', 'source_to_concept_map', 'drug_strength',
    ]) }}
{%- endmacro %}

{#- One row per OMOP DQ test in the graph (tests tagged omop_dq), computed by the same
    macro the test runs (omop_dq_measure), so the table and the test results agree. The
    graph is only known at execute time; while parsing this renders an empty result. -#}
{% macro omop_dq_results() -%}
    {%- set levels = ['conformance', 'completeness', 'plausibility'] -%}
    {%- set tests = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
            {%- if node.resource_type == 'test' and 'omop_dq' in node.tags and node.test_metadata -%}
                {%- do tests.append(node) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for node in tests %}
        {%- set args = node.test_metadata.kwargs -%}
        {%- set column = args.get('column_name') -%}
        {%- set table = graph.nodes[node.attached_node].name -%}
        {%- set level = levels | select('in', node.tags) | first %}
select
    '{{ node.test_metadata.name | replace('omop_', '', 1) }}' as check_name,
    '{{ level }}' as check_level,
    '{{ table }}' as cdm_table,
    {% if column %}'{{ column }}'{% else %}null{% endif %} as cdm_field,
    '{{ node.name }}' as test_name,
    '{{ node.config.severity | lower }}' as severity,
    num_violated_rows,
    num_denominator_rows,
    pct_violated,
    threshold_pct,
    case when pct_violated > threshold_pct then false else true end as passed
from (
    {{ omop_dq_measure(node.test_metadata.name | replace('omop_', '', 1), ref(table), column,
                       dict(args, threshold_pct=args.get('threshold_pct', 0))) }}
) as measured
{% if not loop.last %}union all{% endif %}
    {%- else %}
select
    null as check_name,
    null as check_level,
    null as cdm_table,
    null as cdm_field,
    null as test_name,
    null as severity,
    0 as num_violated_rows,
    0 as num_denominator_rows,
    0.0 as pct_violated,
    0.0 as threshold_pct,
    true as passed
where 1 = 0
    {%- endfor %}
{%- endmacro %}
