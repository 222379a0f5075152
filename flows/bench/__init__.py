"""`salesops bench` / `make bench`: how the pipeline scales, measured side by side (docs/bench.md)."""
