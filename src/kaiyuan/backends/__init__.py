"""Where completions come from: the local engine or (later) an upstream OpenAI-compatible API."""
