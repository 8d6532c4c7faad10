-- The late-records metric: records that arrived after the allowed lateness, by the minute
-- they belong to. They are not in any window, and never silently dropped.
with

records as (
    select * from {{ ref('stg_cloudfront__realtime_records') }}
),

late as (
    select
        {{ dbt.date_trunc('minute', 'requested_at') }} as request_minute,
        distribution,
        cast(count(distinct request_id) as bigint) as late_records
    from records
    where is_late
    group by 1, 2
)

select * from late
