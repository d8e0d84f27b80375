"""Code around the service's resources (database access, message handlers...)."""
