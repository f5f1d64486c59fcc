"""Dagster orchestration for tally: wires the pure transforms and the dbt project together."""
