"""patient package."""
