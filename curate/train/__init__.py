"""Training on curate's dataset folders: tokenisation with loss masks, packing, collation, loops."""
