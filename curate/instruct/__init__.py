"""Instruction and preference data.

formats/ (one module per format, through one canonical row) and rows.py (the one row reader of
every command and the trainers); command.py runs `convert` (convert.py) and `render`
(render.py, render_layouts.py) over the executor; templates.py renders chat templates in a
sandbox and spans.py finds the assistant turns in the text; interop.py writes the dataset card
and the LLaMA-Factory and Axolotl files; self_instruct/ grows instruction sets with a model.
"""
