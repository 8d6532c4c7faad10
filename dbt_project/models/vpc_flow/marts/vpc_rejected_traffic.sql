with

traffic as (
    select * from {{ ref('int_vpc_flow__traffic') }}
),

rejected as (
    select
        flow_date,
        src_addr,
        dst_port,
        cast(count(*) as bigint) as rejected_flow_records,
        cast(sum(packets) as bigint) as rejected_packets
    from traffic
    where action = 'REJECT'
    group by flow_date, src_addr, dst_port
)

select * from rejected
