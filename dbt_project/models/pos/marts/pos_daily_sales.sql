with

transactions as (
    select * from {{ ref('stg_pos__transactions') }}
),

items as (
    select * from {{ ref('stg_pos__item_master') }}
),

-- Grouped over every transaction, not joined from sales: a key with only tax or discount rows stays.
sums as (
    select
        region,
        store_id,
        vendor_id,
        item_id,
        business_date,
        sum(case when trans_type = 4 then trans_amount else 0 end) as sales_amount,
        sum(case when trans_type = 5 then trans_amount else 0 end) as tax_amount,
        sum(case when trans_type = 6 then trans_amount else 0 end) as discount_amount,
        count(*) as transaction_lines
    from transactions
    group by region, store_id, vendor_id, item_id, business_date
)

select
    sums.region,
    sums.store_id,
    sums.vendor_id,
    sums.item_id,
    items.item_name,
    sums.business_date,
    cast(sums.sales_amount as decimal(18, 2)) as sales_amount,
    cast(sums.tax_amount as decimal(18, 2)) as tax_amount,
    cast(sums.discount_amount as decimal(18, 2)) as discount_amount,
    cast(sums.sales_amount - sums.discount_amount as decimal(18, 2)) as net_amount,
    cast(sums.transaction_lines as bigint) as transactions  -- noqa: RF04
from sums
left join items
    on
        sums.region = items.region
        and sums.business_date = items.business_date
        and sums.item_id = items.item_id
