"""The one place settings come from: a Dagster resource resolved at run time, never at import."""

import dagster as dg

from transforms.home import Home


class TallySettings(dg.ConfigurableResource):
    """Where the tally home lives; every asset reaches the filesystem through this."""

    home: str = "data"
    duckdb_memory_limit: str = "4GB"

    @property
    def tally_home(self) -> Home:
        return Home.at(self.home)
