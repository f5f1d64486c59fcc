"""Pure Polars/Decimal transforms for tally: no Dagster imports, no environment reads."""
