"""The Fxiaoke (纷享销客) connector (docs/connectors.md)."""
