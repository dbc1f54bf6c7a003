"""Reading raw corpora (readers/, one module per input format; sources.py expands the user's
paths) and writing dataset folders (writer.py, manifest.py, schema.py); inspect.py describes them."""
