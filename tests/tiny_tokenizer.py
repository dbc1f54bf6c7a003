"""A real byte-level BPE tokenizer trained here on the project's sample text (no download)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Chat-template markers (<|im_start|>, <start_of_turn>, </think>, <｜Assistant｜>, ...): real
# tokenizers hold them as added tokens, so text never merges across them.
MARKER = re.compile(r"<\|?/?[A-Za-z_][A-Za-z0-9_.:-]*\|?>|<｜[^｜<>]{1,40}｜>|<\|[^|<>\s]{1,40}\|>")


def sample_texts() -> list[str]:
    texts = []
    for path in sorted((REPO / "sample_data").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            texts.append(json.dumps(record, ensure_ascii=False))
    return texts


def markers_in(sources: Iterable[str]) -> list[str]:
    return sorted({marker for source in sources for marker in MARKER.findall(source)})


def train_tokenizer(special_tokens: Iterable[str] = (), vocab_size: int = 2000):
    """A `PreTrainedTokenizerFast` with `<s>`, `</s>`, `<unk>`, `<pad>` and `special_tokens`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    base = ["<s>", "</s>", "<unk>", "<pad>"]
    extra = [token for token in dict.fromkeys(special_tokens) if token not in base]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=base + extra,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(sample_texts(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
