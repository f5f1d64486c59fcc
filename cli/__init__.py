"""The `tally` command line: parser, commands, progress and the summary (cli/main.py is its
entry). It builds the home once and passes it to everything below."""

import lake  # noqa: F401 - sets Polars' allocator before anything loads Polars (lake/__init__.py)
