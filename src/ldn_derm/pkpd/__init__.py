"""pkpd package."""
