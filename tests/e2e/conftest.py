"""The e2e tiers' shared worlds (tests/e2e/worlds.py): one build of each per test session."""

import pytest
from worlds import Worlds


@pytest.fixture(scope="session")
def worlds(tmp_path_factory, worker_id) -> Worlds:
    # Each xdist worker has its own base folder under the session's: the worlds go beside them.
    base = tmp_path_factory.getbasetemp()
    return Worlds((base if worker_id == "master" else base.parent) / "worlds")
