-- An interface's own address, per address family, is the endpoint that appears in most of
-- its records (as source or destination): default-format logs do not say which side is the
-- interface, and dual-stack interfaces have an IPv4 and an IPv6 address.
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
        case when addr like '%:%' then 'ipv6' else 'ipv4' end as address_family,
        count(*) as appearances
    from endpoints
    group by interface_id, addr
),

ranked as (
    select
        interface_id,
        address_family,
        addr,
        row_number() over (
            partition by interface_id, address_family order by appearances desc, addr asc
        ) as addr_rank
    from counted
)

select
    interface_id,
    address_family,
    addr as interface_addr
from ranked
where addr_rank = 1
