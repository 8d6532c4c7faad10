-- Each member as the latest roster delivery holding them describes them. A roster delivery is a
-- full snapshot: a member missing from the latest one keeps their last row, flagged.
with

members as (
    select * from {{ ref('stg_outreach__members') }}
),

latest_roster as (
    select max(delivery_id) as delivery_id
    from members
),

ranked as (
    select
        member_token,
        birth_year,
        phone_encrypted,
        email,
        zip3,
        state,
        plan,
        mrn_masked,
        delivery_id,
        delivered_at,
        rule_version,
        row_number() over (partition by member_token order by delivery_id desc) as roster_rank
    from members
)

select
    ranked.member_token,
    ranked.birth_year,
    ranked.phone_encrypted,
    ranked.email,
    ranked.zip3,
    ranked.state,
    ranked.plan,
    ranked.mrn_masked,
    ranked.delivery_id,
    ranked.delivered_at,
    ranked.rule_version,
    ranked.delivery_id = latest_roster.delivery_id as is_on_latest_roster
from ranked
cross join latest_roster
where ranked.roster_rank = 1
