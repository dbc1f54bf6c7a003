"""Load curate dataset folders with Axolotl's own loaders, configured by their `axolotl.yaml`.

Run in a virtual environment with axolotl installed (tests/test_trainer_loaders.py makes one):
python axolotl_check.py MODEL_DIR FOLDER... prints one JSON line per folder: how many rows Axolotl
tokenised and how many tokens it trains (labels != -100; for DPO, the prompt/chosen/rejected it
rendered). CPU only; MODEL_DIR gives the tokenizer and its chat template.
"""

import json
import sys
import tempfile
from pathlib import Path

import yaml
from axolotl.loaders import load_tokenizer
from axolotl.utils.config import normalize_config, validate_config
from axolotl.utils.data.rl import _load_split
from axolotl.utils.data.sft import _load_and_process_single_dataset
from axolotl.utils.dict import DictDefault


def config(model: str, folder: Path, output: str) -> DictDefault:
    snippet = yaml.safe_load((folder / "axolotl.yaml").read_text())
    base = dict(
        base_model=model, tokenizer_config=model, chat_template="tokenizer_default", learning_rate=1e-5,
        micro_batch_size=1, gradient_accumulation_steps=1, num_epochs=1, sequence_len=8192, output_dir=output,
        dataset_num_proc=1, dataset_prepared_path=str(Path(output) / "prepared"),
    )  # fmt: skip
    cfg = validate_config(DictDefault({**base, **snippet}))
    normalize_config(cfg)
    return cfg


def check(model: str, folder: Path) -> dict:
    with tempfile.TemporaryDirectory() as output:
        cfg = config(model, folder, output)
        if cfg.rl:
            rows = list(_load_split(cfg, "train"))
            usable = [row for row in rows if row["prompt"] and row["chosen"] and row["rejected"]]
            return {"folder": str(folder), "rows": len(rows), "valid": len(usable), "example": usable[:1]}
        tokenizer = load_tokenizer(cfg)
        dataset, _ = _load_and_process_single_dataset(cfg.datasets[0], cfg, tokenizer, "train", 42)
        rows = list(dataset)
        trained = [row for row in rows if any(label != -100 for label in row["labels"])]
        example = (
            tokenizer.decode([t for t, label in zip(trained[0]["input_ids"], trained[0]["labels"]) if label != -100])
            if trained
            else None
        )
        return {"folder": str(folder), "rows": len(rows), "valid": len(trained), "example": example}


if __name__ == "__main__":
    for argument in sys.argv[2:]:
        try:
            print(json.dumps(check(sys.argv[1], Path(argument)), ensure_ascii=False, default=str))
        except Exception as error:  # report every folder, whatever fails
            print(json.dumps({"folder": argument, "error": f"{type(error).__name__}: {error}"}))
