"""End-to-end worlds, each built once per test session and shared (the session fixture
`worlds` is in conftest.py).

A world is a home made by a definition (`World`): its landing data and the commands run on it,
carried out by a builder function that returns what a test needs to know of the build (exit
statuses, what was printed, figures of the generator). `Worlds.get` builds a definition the
first time a test asks for it and hands every later ask the same build, keyed by the
definition itself, so two modules that need the same world share one build. Under
pytest-xdist the workers share the builds too: a file lock per definition lets one worker
build while the other waits, and a build that did not finish is built again.

A module that only reads a world uses `worlds.get(...)`; one that writes (runs a command,
edits a file) works on its own copy, `worlds.get(...).copy(tmp_path)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from cli.main import main
from lake.home import Home


@dataclass(frozen=True)
class World:
    """How a world is made: `build(home, params)` lands its data and runs its commands, and
    returns the facts tests read (anything picklable). Two worlds with the same name, builder
    and params are the same world."""

    name: str
    build: Callable[[Home, Any], dict]
    params: Any = None

    @property
    def key(self) -> str:
        what = repr((self.name, self.build.__module__, self.build.__qualname__, self.params))
        return f"{self.name}-{hashlib.sha256(what.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Built:
    """A world as built: its home and the facts its builder returned."""

    home: Home
    facts: dict = field(repr=False)

    def copy(self, folder: Path) -> Built:
        """The same world in `folder`, for a test or a module that writes to it."""
        target = folder / "home"
        shutil.copytree(self.home.root, target, symlinks=True)
        return Built(Home.at(target, self.home.engine), self.facts)


class Worlds:
    """The session's worlds, under one folder shared by the xdist workers."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._built: dict[str, Built] = {}

    def get(self, world: World) -> Built:
        if world.key not in self._built:
            self._built[world.key] = self._build_once(world)
        return self._built[world.key]

    def _build_once(self, world: World) -> Built:
        folder = self.root / world.key
        facts_file = folder / "facts.pickle"
        with FileLock(str(folder) + ".lock"):
            if not facts_file.exists():  # never built, or a build that did not finish
                shutil.rmtree(folder, ignore_errors=True)
                (folder / "home").mkdir(parents=True)
                facts = world.build(Home.at(folder / "home"), world.params)
                partial = facts_file.with_suffix(".partial")
                partial.write_bytes(pickle.dumps(facts))
                partial.replace(facts_file)  # written last: the build is done
        return Built(Home.at(folder / "home"), pickle.loads(facts_file.read_bytes()))


@dataclass(frozen=True)
class Ran:
    """One `tally` command: its exit status and what it printed on stdout."""

    status: int
    output: str


def tally(home: Home, command: str, *args: str) -> Ran:
    """`tally COMMAND --home HOME ARGS...` in this process, its output captured."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main([command, "--home", str(home.root), *args])
    return Ran(status, printed.getvalue())
