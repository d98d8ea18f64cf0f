"""Section 4 placeholder (filled in below once the parser lands)."""
