with

source as (
    select * from {{ source('raw_vpc_flow', 'flow_logs') }}
),

renamed as (
    select
        account_id,
        interface_id,
        flow_log_id,
        srcaddr as src_addr,
        dstaddr as dst_addr,
        srcport as src_port,
        dstport as dst_port,
        protocol,
        packets,
        bytes as bytes_transferred,
        start_time,
        end_time,
        cast(start_time as date) as flow_date,
        action,
        log_status,
        vpc_id,
        subnet_id,
        instance_id,
        flow_direction,
        cast(dt as date) as delivery_date,
        source_key
    from source
)

select * from renamed
