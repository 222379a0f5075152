"""The semantic layer: the KPIs of dbt_project/models/semantic/ (MetricFlow) queried from Python.

See docs/semantic_layer.md.
"""
