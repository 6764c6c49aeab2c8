"""Long-lived actors and deployments that run the work."""
