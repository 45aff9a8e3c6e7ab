"""Local inference on llama.cpp: model files, chat templates, sampling, batching scheduler."""
