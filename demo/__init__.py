"""The synthetic demo world: the generator behind `tally generate` and `tally demo`, and its price book."""
