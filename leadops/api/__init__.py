"""API plumbing: error format, health endpoint, schema and docs, and the /api/v1/ routes."""
