-- Traffic only: NODATA/SKIPDATA rows carry no addresses or counts and are coverage, not flows.
with

flow_logs as (
    select * from {{ ref('stg_vpc_flow__flow_logs') }}
),

traffic as (
    select
        account_id,
        interface_id,
        src_addr,
        dst_addr,
        src_port,
        dst_port,
        protocol,
        packets,
        bytes_transferred,
        start_time,
        end_time,
        flow_date,
        action,
        flow_direction
    from flow_logs
    where log_status = 'OK'
)

select * from traffic
