"""Files people open in a spreadsheet (CSV, XLSX), written one safe way (docs/commission_plans.md)."""
