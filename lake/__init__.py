"""The lake: tally's home on disk, the schemas of every table it holds, and atomic Parquet I/O."""
