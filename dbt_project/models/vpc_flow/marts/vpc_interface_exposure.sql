with

traffic as (
    select * from {{ ref('int_vpc_flow__traffic') }}
),

addresses as (
    select * from {{ ref('int_vpc_flow__interface_addresses') }}
),

inbound as (
    select
        traffic.interface_id,
        traffic.dst_addr as interface_addr,
        traffic.protocol,
        traffic.dst_port,
        traffic.src_port,
        traffic.packets,
        traffic.bytes_transferred,
        traffic.start_time,
        traffic.end_time
    from traffic
    left join addresses
        on
            traffic.interface_id = addresses.interface_id
            and traffic.dst_addr = addresses.interface_addr
    where
        traffic.action = 'ACCEPT'
        -- Custom formats say the direction; otherwise inbound means addressed to one of the
        -- interface's own addresses (IPv4 or IPv6).
        and coalesce(traffic.flow_direction = 'ingress', addresses.interface_addr is not null)
),

exposure as (
    select
        interface_id,
        interface_addr,
        protocol,
        dst_port,
        cast(count(*) as bigint) as flow_records,
        cast(sum(bytes_transferred) as bigint) as bytes_transferred,
        min(start_time) as first_seen,
        max(end_time) as last_seen,
        -- Replies to the interface's own outbound connections land on ephemeral ports from a
        -- lower server port; security groups allow those statefully, so they are flagged.
        sum(case when dst_port >= 32768 and src_port < dst_port then 1 else 0 end) = count(*) as likely_replies
    from inbound
    group by interface_id, interface_addr, protocol, dst_port
)

select * from exposure
