-- NODATA (no traffic in the interval) and SKIPDATA (records skipped by AWS) are coverage,
-- not traffic: counted here, excluded from every traffic mart.
with

flow_logs as (
    select * from {{ ref('stg_vpc_flow__flow_logs') }}
),

per_interface as (
    select
        flow_date,
        account_id,
        interface_id,
        cast(count(*) as bigint) as records,
        cast(sum(case when log_status = 'OK' then 1 else 0 end) as bigint) as ok_records,
        cast(sum(case when log_status = 'NODATA' then 1 else 0 end) as bigint) as nodata_records,
        cast(sum(case when log_status = 'SKIPDATA' then 1 else 0 end) as bigint) as skipdata_records
    from flow_logs
    group by flow_date, account_id, interface_id
)

select
    flow_date,
    account_id,
    interface_id,
    records,
    ok_records,
    nodata_records,
    skipdata_records,
    -- Share of intervals that were captured (SKIPDATA means records were lost).
    cast(records - skipdata_records as {{ type_double() }}) / records as capture_ratio
from per_interface
