"""Steps, the local process executor, dataset-folder state and reports."""
