{#- The OMOP DQ checks as dbt generic tests: each fails (one row) only when pct_violated >
    threshold_pct. The SQL is in dq_checks.sql, shared with the omop_dq_results model. -#}

{% test omop_primary_key_unique(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('primary_key_unique', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_required_present(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('required_present', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_foreign_key_exists(model, column_name, to_table, to_field, threshold_pct=0) %}
{{ omop_dq_test('foreign_key_exists', model, column_name, {'to_table': to_table, 'to_field': to_field, 'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_fk_domain(model, column_name, domain_id, threshold_pct=0) %}
{{ omop_dq_test('fk_domain', model, column_name, {'domain_id': domain_id, 'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_standard_valid_concept(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('standard_valid_concept', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_standard_concept_completeness(model, column_name, when_present=none, threshold_pct=0) %}
{{ omop_dq_test('standard_concept_completeness', model, column_name, {'when_present': when_present, 'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_source_concept_completeness(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('source_concept_completeness', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_source_value_completeness(model, column_name, concept_field, threshold_pct=0) %}
{{ omop_dq_test('source_value_completeness', model, column_name, {'concept_field': concept_field, 'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_start_before_end(model, column_name, end_field, threshold_pct=0) %}
{{ omop_dq_test('start_before_end', model, column_name, {'end_field': end_field, 'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_after_birth(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('after_birth', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_before_death(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('before_death', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_within_observation_period(model, column_name, threshold_pct=0) %}
{{ omop_dq_test('within_observation_period', model, column_name, {'threshold_pct': threshold_pct}) }}
{% endtest %}

{% test omop_no_overlapping_observation_periods(model, threshold_pct=0) %}
{{ omop_dq_test('no_overlapping_observation_periods', model, none, {'threshold_pct': threshold_pct}) }}
{% endtest %}
