"""Language models curate calls: any OpenAI-compatible server or an in-process transformers
model behind one protocol (backend.py), built from a command's options (factory.py), with a disk
cache of answers (cache.py); and reward models scoring conversations (reward_model.py)."""
