with source as (
    select * from {{ raw_source('fxiaoke', 'fxiaoke_departments') }}
),

renamed as (
    select
        cast({{ json_text('record', ['departmentId']) }} as integer) as department_id,
        cast({{ json_text('record', ['parentId']) }} as integer) as parent_department_id,
        {{ json_text('record', ['name']) }} as department_name,
        {{ epoch_ms_to_utc(json_text('record', ['updateTime'])) }} as updated_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
