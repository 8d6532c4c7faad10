with

traffic as (
    select * from {{ ref('int_vpc_flow__traffic') }}
),

ports as (
    select
        flow_date,
        dst_port,
        cast(count(*) as bigint) as flow_records,
        cast(sum(packets) as bigint) as packets,
        cast(sum(bytes_transferred) as bigint) as bytes_transferred
    from traffic
    where dst_port is not null
    group by flow_date, dst_port
)

select
    flow_date,
    dst_port,
    flow_records,
    packets,
    bytes_transferred,
    -- The seed's view: well-known ports only.
    dst_port <= 1024 as is_well_known_port,
    cast(row_number() over (
        partition by flow_date
        order by flow_records desc, bytes_transferred desc, dst_port asc
    ) as integer) as port_rank
from ports
