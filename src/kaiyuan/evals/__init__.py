"""Measure: suites, an async runner with cache and resume, scoring, arena ratings, reports.

Talks HTTP to any OpenAI-compatible endpoint; never imports `server/`.
"""
