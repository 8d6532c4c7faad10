with

source as (
    select * from {{ source('raw_cloudfront', 'realtime_records') }}
),

renamed as (
    select
        shard_id,
        sequence_number,
        dedupe_key as request_id,
        {{ epoch_to_timestamp('event_time') }} as requested_at,
        is_late,
        cs_host as distribution,
        x_edge_location as edge_location,
        c_ip as client_ip,
        cs_user_agent as user_agent,
        x_edge_result_type as edge_result_type,
        cast(sc_status as integer) as http_status,
        cast(sc_bytes as bigint) as bytes_sent
    from source
)

select * from renamed
