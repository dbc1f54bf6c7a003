"""What tokenisation kept, cut and dropped, and why (RUN/truncation.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Drop reasons.
NO_ASSISTANT_TOKENS = "no_assistant_tokens"
ALL_TRAINED_TOKENS_TRUNCATED = "all_trained_tokens_truncated"
TEMPLATE_ERROR = "template_error"
PROMPT_FILLS_MAX_LENGTH = "prompt_fills_max_length"

IGNORE = -100  # the label of a token the loss skips (PyTorch's cross_entropy ignore_index)
# Rendered texts are tokenised this many at a time (the Rust tokenizer works on a batch in parallel).
TOKENIZE_BATCH = 512


@dataclass
class TruncationReport:
    """What tokenisation kept, cut and dropped, and why.

    `rows`: rows given; `kept`: examples (or pairs) returned; `truncated`: kept ones that were
    cut to fit; `dropped`: reason -> count (`no_assistant_tokens`, `all_trained_tokens_truncated`,
    `template_error`, and for preference pairs `prompt_fills_max_length`); `tokens` / `trained_tokens`:
    tokens and prediction targets (labels != -100) in what was kept, after truncation (for pairs:
    both sequences, prompt counted twice; trained = completion tokens); `tokens_truncated`: tokens
    cut off kept examples; `straddling_tokens`: tokens that cross an assistant-span boundary with
    real text on both sides (masked by where they start; 0 for a tokenizer that has the template's
    markers as special tokens); `prompt_mismatch`: pairs whose tokenised prompt is not a prefix of
    the tokenised conversation (the prompt is then cut where they diverge, as TRL does);
    `template_errors`: up to three template error messages, for the user.
    """

    rows: int = 0
    kept: int = 0
    truncated: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    trained_tokens: int = 0
    tokens_truncated: int = 0
    straddling_tokens: int = 0
    prompt_mismatch: int = 0
    template_errors: list[str] = field(default_factory=list)

    def drop(self, reason: str, detail: str | None = None) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        if detail and len(self.template_errors) < 3:
            self.template_errors.append(detail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "truncated": self.truncated,
            "dropped": dict(sorted(self.dropped.items())),
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "tokens_truncated": self.tokens_truncated,
            "straddling_tokens": self.straddling_tokens,
            "prompt_mismatch": self.prompt_mismatch,
            "template_errors": list(self.template_errors),
        }

    def summary(self) -> str:
        """One line for the terminal."""
        dropped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.dropped.items())) or "none"
        return (
            f"{self.rows} rows -> {self.kept} kept ({self.truncated} truncated), dropped: {dropped}; "
            f"{self.tokens} tokens, {self.trained_tokens} trained"
        )
