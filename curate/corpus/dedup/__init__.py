"""`curate dedup`: exact and MinHash near-duplicate removal in three resumable passes.

1. features.py, one task per input file, in parallel: hash every document (exact hash,
   MinHash band keys, line hashes) into a memory-mapped Arrow file per task.
2. clusters.py, in the main process: group exact duplicates, find LSH candidate pairs
   one band at a time, join them into clusters, choose what each cluster keeps; or, with
   --partitions, distributed.py: the same by stages of tasks over R partitions. decisions.py
   writes what each rejected row is and the summary.
3. removal.py, one task per input file, in parallel: read the input again and split each
   batch into kept and rejected rows as decided, through the ordinary executor.
"""
