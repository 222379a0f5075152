with source as (
    select * from {{ raw_source('fxiaoke', 'fxiaoke_employees') }}
),

renamed as (
    select
        -- ids
        id as employee_id,
        cast({{ json_text('record', ['mainDepartmentId']) }} as integer) as main_department_id,
        {{ json_text('record', ['leaderId']) }} as leader_id,

        -- people
        {{ json_text('record', ['name']) }} as employee_name,
        lower({{ json_text('record', ['email']) }}) as email,
        {{ json_text('record', ['mobile']) }} as mobile,
        {{ json_text('record', ['position']) }} as position_name,
        cast({{ json_text('record', ['isStop']) }} as boolean) as is_stopped,

        -- dates and timestamps (UTC; dates in Asia/Shanghai)
        cast({{ json_text('record', ['hireDate']) }} as date) as hired_on,
        {{ epoch_ms_to_utc(json_text('record', ['stopTime'])) }} as stopped_at,
        {{ epoch_ms_to_local_date(json_text('record', ['stopTime'])) }} as stopped_on,
        {{ epoch_ms_to_utc(json_text('record', ['updateTime'])) }} as updated_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
