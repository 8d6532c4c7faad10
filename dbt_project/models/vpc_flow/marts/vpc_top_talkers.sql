with

traffic as (
    select * from {{ ref('int_vpc_flow__traffic') }}
),

pairs as (
    select
        flow_date,
        src_addr,
        dst_addr,
        cast(count(*) as bigint) as flow_records,
        cast(sum(packets) as bigint) as packets,
        cast(sum(bytes_transferred) as bigint) as bytes_transferred
    from traffic
    group by flow_date, src_addr, dst_addr
),

ranked as (
    select
        flow_date,
        src_addr,
        dst_addr,
        flow_records,
        packets,
        bytes_transferred,
        cast(row_number() over (
            partition by flow_date
            order by bytes_transferred desc, src_addr asc, dst_addr asc
        ) as integer) as talker_rank
    from pairs
)

select
    flow_date,
    talker_rank,
    src_addr,
    dst_addr,
    packets,
    bytes_transferred,
    flow_records
from ranked
where talker_rank <= 50
