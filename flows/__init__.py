"""salesops: the nightly sales-performance pipeline (CRM -> DuckDB -> dbt -> GX gate -> email)."""

__version__ = "0.1.0"
