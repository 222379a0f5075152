{#- Every landed custom object (raw.fxiaoke_custom_<api name>), one row per record. -#}
{%- set custom_objects = fxiaoke_custom_object_tables() -%}

with source as (
    {%- for custom in custom_objects %}
    select
        '{{ custom.api_name }}' as object_api_name,
        id, record, is_deleted, deleted_at, loaded_at, run_id
    from {{ custom.relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as object_api_name,
            id,
            record,
            is_deleted,
            deleted_at,
            loaded_at,
            run_id
        from {{ raw_stand_in() }} as no_custom_objects
    {%- endfor %}
),

renamed as (
    select
        -- ids
        {{ dbt.concat(['object_api_name', "':'", 'id']) }} as custom_record_key,
        object_api_name,
        id as record_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- common attributes of every Fxiaoke object
        {{ json_text('record', ['name']) }} as record_name,
        {{ json_text('record', ['life_status']) }} as life_status,
        cast({{ json_text('record', ['is_deleted']) }} as boolean) as is_deleted_in_crm,

        -- timestamps (UTC)
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- the object's own fields (field_xxx__c), as the API returned them
        record,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
