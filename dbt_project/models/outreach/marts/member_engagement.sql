-- One row per member seen in outreach responses, on the roster or in pharmacy claims: outreach
-- engagement, fills and the medication possession ratio (MPR) over the member's fills:
-- min(1, days supplied / (days from first to last fill + the last fill's days supply)).
with

outreaches as (
    select * from {{ ref('int_outreach__outreaches') }}
),

members as (
    select * from {{ ref('int_outreach__members_current') }}
),

-- A fill re-delivered on a later day counts once.
claims as (
    select distinct
        member_token,
        ndc,
        fill_date,
        days_supply,
        prescriber_npi
    from {{ ref('stg_outreach__pharmacy_claims') }}
),

engagement as (
    select
        member_token,
        count(distinct outreach_id) as outreaches,
        count(distinct case when is_complete then outreach_id end) as completions,
        max(last_answered_at) as last_contact_at
    from outreaches
    group by member_token
),

fills as (
    select
        member_token,
        count(*) as fills,
        min(fill_date) as first_fill_date,
        max(fill_date) as last_fill_date,
        sum(days_supply) as days_supply_total
    from claims
    group by member_token
),

-- Several fills on the last fill date: the longest supply counts as the last fill's.
last_fills as (
    select
        claims.member_token,
        max(claims.days_supply) as last_days_supply
    from claims
    inner join fills
        on claims.member_token = fills.member_token and claims.fill_date = fills.last_fill_date
    group by claims.member_token
),

member_tokens as (
    select member_token from engagement
    union
    select member_token from members
    union
    select member_token from fills
),

adherence as (
    select
        fills.member_token,
        cast(fills.days_supply_total as {{ type_double() }}) / nullif(
            {{ days_between('fills.first_fill_date', 'fills.last_fill_date') }} + last_fills.last_days_supply, 0
        ) as possession_ratio
    from fills
    inner join last_fills
        on fills.member_token = last_fills.member_token
)

select
    member_tokens.member_token,
    cast(coalesce(engagement.outreaches, 0) as integer) as outreaches,
    cast(coalesce(engagement.completions, 0) as integer) as completions,
    engagement.last_contact_at,
    cast(coalesce(fills.fills, 0) as integer) as fills,
    fills.first_fill_date,
    fills.last_fill_date,
    cast(fills.days_supply_total as integer) as days_supply_total,
    -- Capped at 1 (a case, not least(): least() skips nulls in DuckDB and Redshift).
    cast(
        case when adherence.possession_ratio > 1 then 1.0 else adherence.possession_ratio end
        as {{ type_double() }}
    ) as adherence_mpr,
    members.birth_year,
    members.state,
    members.plan
from member_tokens
left join engagement
    on member_tokens.member_token = engagement.member_token
left join fills
    on member_tokens.member_token = fills.member_token
left join adherence
    on member_tokens.member_token = adherence.member_token
left join members
    on member_tokens.member_token = members.member_token
