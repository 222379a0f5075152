{#- Money and ratios. Amounts are DECIMAL(18,2); text and JSON numbers are cast directly to
    decimal, never through floating point. -#}
{% macro to_money(expr) -%}
    cast({{ expr }} as decimal(18, 2))
{%- endmacro %}

{#- Round half-up (half away from zero) to the cent. DuckDB and PostgreSQL round() on DECIMAL /
    NUMERIC both round half away from zero; the cast first makes sure no double is involved. -#}
{% macro round_money(expr) -%}
    cast(round(cast({{ expr }} as decimal(38, 10)), 2) as decimal(18, 2))
{%- endmacro %}

{#- numerator / denominator as DECIMAL(18,6); null when the denominator is 0 or null. DuckDB divides
    DECIMALs in double, PostgreSQL in NUMERIC: the quotient is cast to decimal(38, 10) before
    rounding so both round the same value (round_money does the same). -#}
{% macro safe_ratio(numerator, denominator) -%}
    {{ return(adapter.dispatch('safe_ratio', 'salesops')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__safe_ratio(numerator, denominator) -%}
    cast(round(cast(cast({{ numerator }} as decimal(38, 10)) / nullif(cast({{ denominator }} as decimal(38, 10)), 0) as decimal(38, 10)), 6) as decimal(18, 6))
{%- endmacro %}

{#- Spark divides decimals exactly and rounds the quotient half-up to the scale its precision rules
    give: decimal(38, 10) / decimal(38, 10) would keep only 6 digits (allowPrecisionLoss), rounding
    once where DuckDB and PostgreSQL round to 10 digits and then to 6. decimal(28, 10) operands give
    a decimal(38, 10) quotient: the same two roundings. -#}
{% macro spark__safe_ratio(numerator, denominator) -%}
    cast(round(cast(cast({{ numerator }} as decimal(28, 10)) / nullif(cast({{ denominator }} as decimal(28, 10)), 0) as decimal(38, 10)), 6) as decimal(18, 6))
{%- endmacro %}
