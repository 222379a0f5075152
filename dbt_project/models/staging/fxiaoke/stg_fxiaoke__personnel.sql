with source as (
    select * from {{ raw_source('fxiaoke', 'fxiaoke_personnel') }}
),

renamed as (
    select
        -- ids (personnel ids are the numeric employee ids; open_user_id links to stg_fxiaoke__employees)
        id as personnel_id,
        {{ json_text('record', ['user_id']) }} as user_id,
        {{ json_text('record', ['field_open_user_id__c']) }} as open_user_id,
        cast({{ json_text('record', ['main_department_id', 0]) }} as integer) as main_department_id,
        {{ json_text('record', ['leader', 0]) }} as leader_personnel_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- people
        {{ json_text('record', ['name']) }} as personnel_name,
        lower({{ json_text('record', ['email']) }}) as email,
        {{ json_text('record', ['phone']) }} as phone,
        {{ json_text('record', ['position']) }} as position_name,
        {{ json_text('record', ['status']) }} as status_code,
        {{ json_text('record', ['status__r']) }} as status_label,
        {{ json_text('record', ['life_status']) }} as life_status,
        cast({{ json_text('record', ['is_deleted']) }} as boolean) as is_deleted_in_crm,

        -- timestamps (UTC)
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
