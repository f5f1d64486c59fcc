import os

# The machines are offline: no telemetry from dbt or Dagster in any test.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
