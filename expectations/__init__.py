"""Great Expectations suites for tally, as plain functions, and the runner that applies them."""
