"""`curate self-instruct`: grow an instruction set from seed tasks with a language model.

command.py reads the seeds and writes the folder; grow.py is the loop; parsing.py reads the
model's numbered tasks, checks.py and similarity.py (ROUGE-L) decide which to keep;
languages.py holds each language's request and blacklist; report.py writes report.md.
"""
