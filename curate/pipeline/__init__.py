"""How every command writes a dataset folder: Step (step.py), jobs and their tasks run by the local
executor (job.py, task.py, pool.py, executor.py), the folder's life, identity and seal (folder.py,
identity.py, in_memory.py for commands that hold their rows in memory), and reports (report.py,
plots.py, counts.py)."""
