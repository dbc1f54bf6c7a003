"""Preference data: sample candidate answers, judge them (LLM judge or reward model), pair them."""
