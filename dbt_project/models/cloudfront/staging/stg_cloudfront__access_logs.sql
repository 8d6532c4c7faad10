with

source as (
    select * from {{ source('raw_cloudfront', 'access_logs') }}
),

renamed as (
    select
        distribution_id,
        cast(ts as timestamp) as requested_at,
        cast(dt as date) as log_date,
        cast(hour as integer) as log_hour,
        x_edge_location as edge_location,
        c_ip as client_ip,
        cs_method as http_method,
        cs_uri_stem as uri_path,
        cast(sc_status as integer) as http_status,
        cs_user_agent as user_agent,
        x_edge_result_type as edge_result_type,
        cast(sc_bytes as bigint) as bytes_sent,
        cast(cs_bytes as bigint) as bytes_received,
        time_taken as time_taken_seconds,
        source_key
    from source
)

select * from renamed
