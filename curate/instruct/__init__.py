"""Instruction and preference data: formats, templates, assistant spans."""
