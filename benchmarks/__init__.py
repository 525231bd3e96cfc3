"""Side-by-side performance scripts; each prints a table and writes JSON."""
