-- An interface's own address is the one that appears in (almost) all of its records, as
-- source or destination. Default-format logs do not say which side is the interface.
with

traffic as (
    select * from {{ ref('int_vpc_flow__traffic') }}
),

endpoints as (
    select
        interface_id,
        src_addr as addr
    from traffic
    union all
    select
        interface_id,
        dst_addr as addr
    from traffic
),

counted as (
    select
        interface_id,
        addr,
        count(*) as appearances
    from endpoints
    group by interface_id, addr
),

ranked as (
    select
        interface_id,
        addr,
        row_number() over (partition by interface_id order by appearances desc, addr asc) as addr_rank
    from counted
)

select
    interface_id,
    addr as interface_addr
from ranked
where addr_rank = 1
