"""The HTTP face: FastAPI routes, SSE, auth, limits, OpenAI-style errors and /metrics."""
