"""curate: build, clean and train on instruction and preference data for language models."""

__version__ = "0.1.0"
