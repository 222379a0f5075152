"""Reports: model, formatting, one module per report kind, and email delivery (docs/reports.md)."""
