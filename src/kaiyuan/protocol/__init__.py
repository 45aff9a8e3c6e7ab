"""OpenAI wire types and kaiyuan's documented extensions. Imports nothing else of ours."""
