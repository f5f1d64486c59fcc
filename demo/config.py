"""The size and shape of a generated world (`tally generate`, the demo, tests, the bench)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class GenerateConfig:
    customers: int = 40
    days: int = 61
    events_per_day: int = 5000
    start: dt.date = dt.date(2026, 9, 1)
    seed: int = 7
    duplicate_rate: float = 0.01
    late_rate: float = 0.005
    fault_rate: float = 0.001
