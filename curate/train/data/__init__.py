"""Training data: read dataset folders, tokenise with loss masks, pack, collate.

    rows = read_rows("out/sft")                                  # canonical rows
    examples, report = tokenize_sft(rows, tokenizer, template, max_length=2048)
    rows_or_packed = pack(examples, 2048)                        # optional
    batch = collate_sft(rows_or_packed[:8], pad_id, packed=True)  # tensors for model(**...)

    pairs, report = tokenize_preference(rows, tokenizer, template, 2048, max_prompt_length=1024)
    batch = collate_preference(pairs[:4], pad_id)                 # 2B rows: chosen, then rejected

What is trained (labels != -100), SFT:
- chat rows: the tokens of every assistant turn as `assistant_spans` finds them: from where the
  generation prompt ends (after `<|im_start|>assistant\\n`) to the end of the text the template
  writes after the content when the conversation ends there. For ChatML that is the content,
  `<|im_end|>` and the `\\n` after it; for Llama 3 the content and `<|eot_id|>`; for the Alpaca
  template the output and `eos_token` (`</s>`; the blank line between turns is not trained).
  Role headers, system and user turns are never trained. Templates need no `{% generation %}` tags.
- text rows (a plain `text` column, pretraining style): every token, the tokenizer's own special
  tokens added (`add_special_tokens=True`, e.g. Llama's `<s>`) and `eos_token` appended.
- the first token of every example is never a label: nothing comes before it to predict it from
  (the model shifts labels itself, so labels[i] is the target of the logits at i - 1). The report's
  trained-token counts are therefore the real number of prediction targets.

Token ids come from the tokenizer run on the rendered text with `add_special_tokens=False`, as
`apply_chat_template(..., tokenize=True)` does: the template writes its own bos and markers.
torch is imported inside the functions that build tensors, so importing this module is cheap.
"""

from curate.train.data.collate import block_causal_mask, collate_preference, collate_sft
from curate.train.data.packing import PackedRow, pack
from curate.train.data.preference import PreferencePair, tokenize_preference
from curate.train.data.report import (
    ALL_TRAINED_TOKENS_TRUNCATED,
    IGNORE,
    NO_ASSISTANT_TOKENS,
    PROMPT_FILLS_MAX_LENGTH,
    TEMPLATE_ERROR,
    TruncationReport,
)
from curate.train.data.rows import PREFERENCE, SFT, read_rows, rows_kind
from curate.train.data.sft import Example, template_variables, tokenize_sft

__all__ = [
    "ALL_TRAINED_TOKENS_TRUNCATED",
    "IGNORE",
    "NO_ASSISTANT_TOKENS",
    "PREFERENCE",
    "PROMPT_FILLS_MAX_LENGTH",
    "SFT",
    "TEMPLATE_ERROR",
    "Example",
    "PackedRow",
    "PreferencePair",
    "TruncationReport",
    "block_causal_mask",
    "collate_preference",
    "collate_sft",
    "pack",
    "read_rows",
    "rows_kind",
    "template_variables",
    "tokenize_preference",
    "tokenize_sft",
]
