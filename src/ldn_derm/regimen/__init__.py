"""regimen package."""
