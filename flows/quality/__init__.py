"""The data-quality gate: checks, suites, the GX runtime, results and quarantine."""
