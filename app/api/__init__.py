"""The public HTTP API of the platform."""

# Every API router is included under this prefix (app/main.py).
API_PREFIX = "/api/v1"
