"""Language-model backends: any OpenAI-compatible server, or an in-process transformers model."""
