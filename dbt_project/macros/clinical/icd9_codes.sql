{#- MIMIC stores ICD-9 codes without the dot; OMOP's ICD9CM / ICD9Proc concept codes have it.
    Diagnoses: after the third character (fourth for E codes); procedures: after the second. -#}
{% macro icd9cm_dotted(code) -%}
    case
        when {{ code }} like 'E%' and length({{ code }}) > 4
            then substring({{ code }}, 1, 4) || '.' || substring({{ code }}, 5)
        when {{ code }} not like 'E%' and length({{ code }}) > 3
            then substring({{ code }}, 1, 3) || '.' || substring({{ code }}, 4)
        else {{ code }}
    end
{%- endmacro %}

{% macro icd9proc_dotted(code) -%}
    case
        when length({{ code }}) > 2 then substring({{ code }}, 1, 2) || '.' || substring({{ code }}, 3)
        else {{ code }}
    end
{%- endmacro %}
