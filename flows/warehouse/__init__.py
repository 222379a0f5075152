"""DuckDB access, dbt invocation, publishing, the run lock and the PostgreSQL copy."""
