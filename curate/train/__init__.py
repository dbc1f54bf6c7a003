"""Training on curate's dataset folders: one loop per method, each read top to bottom.

sft.py, dpo.py and rm.py are the loops; each sets up in a few explicit calls to the modules
beside it: settings.py (the shared options), models.py (load, prepare), data/ (rows, tokenise
with loss masks, pack, collate), batches.py (split, order, micro-batches), optim.py (AdamW,
schedule, the optimizer step), checkpoint.py (save, restore, resume), run_folder.py
(metrics.jsonl, checkpoint-N/, final/), flops.py (tokens/s, MFU), progress.py (the progress
line), distributed.py (torchrun). DPO adds dpo_losses/ (one module per loss), dpo_reference.py
and logps.py. init_model.py makes a model here, without downloads.
"""
