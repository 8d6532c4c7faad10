with

stores as (
    select * from {{ ref('pos_store_completeness') }}
),

windows as (
    select distinct
        region,
        business_date,
        window_complete
    from {{ ref('stg_pos__window_deliveries') }}
),

sales as (
    select
        region,
        business_date,
        sum(net_amount) as net_amount,
        sum(transactions) as transaction_lines  -- noqa: RF04
    from {{ ref('pos_daily_sales') }}
    group by region, business_date
),

reporting as (
    select
        region,
        business_date,
        count(*) filter (where deliveries_received > 0) as stores_reporting,
        count(*) as stores_expected
    from stores
    group by region, business_date
)

select
    windows.region,
    windows.business_date,
    cast(coalesce(sales.net_amount, 0) as decimal(18, 2)) as net_amount,
    cast(coalesce(sales.transaction_lines, 0) as bigint) as transactions,  -- noqa: RF04
    cast(reporting.stores_reporting as integer) as stores_reporting,
    cast(reporting.stores_expected as integer) as stores_expected,
    windows.window_complete as is_complete
from windows
inner join reporting
    on windows.region = reporting.region and windows.business_date = reporting.business_date
left join sales
    on windows.region = sales.region and windows.business_date = sales.business_date
