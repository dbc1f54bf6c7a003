"""Load curate dataset folders with LLaMA-Factory's own loader, as its `dataset_info.json` says.

Run in a virtual environment with llamafactory installed (tests/test_trainer_loaders.py makes
one): python llamafactory_check.py FOLDER... prints one JSON line per folder with how many rows
LLaMA-Factory turned into valid training examples. CPU only; no model is loaded.
"""

import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import transformers  # noqa: F401 - before the stub below, so transformers sees no torchaudio

# The PyPI torchaudio wheel is a CUDA build that does not load beside the CPU torch; LLaMA-Factory's
# multimodal plugin imports it at the top, and text data never uses it.
sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))

from llamafactory.data.loader import _load_single_dataset  # noqa: E402
from llamafactory.data.parser import get_dataset_list  # noqa: E402


def check(folder: Path) -> dict:
    entries = json.loads((folder / "dataset_info.json").read_text())
    (name,) = entries
    attr = get_dataset_list([name], str(folder))[0]
    model_args = SimpleNamespace(cache_dir=None, hf_hub_token=None, ms_hub_token=None, om_hub_token=None)
    data_args = SimpleNamespace(
        dataset_dir=str(folder), streaming=False, preprocessing_num_workers=None, overwrite_cache=True,
        media_dir=str(folder), max_samples=None, buffer_size=16384,
    )  # fmt: skip
    training_args = SimpleNamespace(local_process_index=0, seed=0)
    dataset = _load_single_dataset(attr, model_args, data_args, training_args)
    rows = list(dataset)
    # what LLaMA-Factory's processors keep (processor/pretrain.py, supervised.py, pairwise.py)
    if attr.formatting == "alpaca" and attr.response is None:  # text only: pretraining (stage: pt)
        valid = [row for row in rows if row["_prompt"] and row["_prompt"][0]["content"]]
    else:
        wanted = 2 if attr.ranking else 1
        valid = [row for row in rows if len(row["_prompt"]) % 2 == 1 and len(row["_response"]) == wanted]
    return {"folder": str(folder), "rows": len(rows), "valid": len(valid), "example": valid[0] if valid else rows[:1]}


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        try:
            print(json.dumps(check(Path(argument)), ensure_ascii=False, default=str))
        except Exception as error:  # report every folder, whatever fails
            print(json.dumps({"folder": argument, "error": f"{type(error).__name__}: {error}"}))
