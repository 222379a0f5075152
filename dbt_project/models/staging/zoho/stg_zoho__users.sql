with source as (
    select * from {{ raw_source('zoho', 'zoho_users') }}
),

renamed as (
    select
        -- ids
        id as user_id,
        {{ json_text('record', ['Reporting_To', 'id']) }} as reporting_to_id,
        {{ json_text('record', ['role', 'id']) }} as role_id,

        -- people
        {{ json_text('record', ['first_name']) }} as first_name,
        {{ json_text('record', ['last_name']) }} as last_name,
        {{ json_text('record', ['full_name']) }} as full_name,
        lower({{ json_text('record', ['email']) }}) as email,
        {{ json_text('record', ['status']) }} as status,
        {{ json_text('record', ['role', 'name']) }} as role_name,
        {{ json_text('record', ['profile', 'name']) }} as profile_name,
        {{ json_text('record', ['Reporting_To', 'name']) }} as reporting_to_name,
        {{ json_text('record', ['territories', 0, 'name']) }} as territory_name,
        {{ json_text('record', ['Sales_Team']) }} as sales_team,
        {{ json_text('record', ['time_zone']) }} as time_zone,
        {{ json_text('record', ['locale']) }} as locale,

        -- dates and timestamps (UTC)
        cast({{ json_text('record', ['Date_of_Joining']) }} as date) as joined_on,
        cast({{ json_text('record', ['Date_of_Leaving']) }} as date) as left_on,
        {{ iso_to_utc(json_text('record', ['created_time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
