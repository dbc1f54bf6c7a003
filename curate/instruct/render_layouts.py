"""The column layouts `curate render --columns` writes, and which trainer option reads each.

A rendered folder must be read one way only: TRL's SFTTrainer picks its dataset type from
whichever of `messages`, `prompt` or `completion` a set happens to give it first, so a folder
holding both a conversation and its rendering is read one way or the other from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.instruct.formats.base import SFT, Axolotl, Layout, LlamaFactory
from curate.instruct.formats.messages import AXOLOTL_CHAT_TEMPLATE
from curate.instruct.formats.messages import TAGS as MESSAGES_TAGS
from curate.instruct.formats.prompt_completion import AXOLOTL_PROMPT_COMPLETION

RENDERED = "the text is already rendered with the chat template, so train with LLaMA-Factory's `template: empty`"


@dataclass(frozen=True, kw_only=True)
class RenderLayout(Layout):
    """Which columns a rendered row has (`text` and `assistant_spans` also come with --text-column)."""

    conversation: bool = False  # messages, and Alpaca's fields for Alpaca-origin rows
    prompt_completion: bool = False  # the text before the last answer, and that answer
    text: bool = False  # the whole text and the characters of every assistant turn


LAYOUTS: dict[str, RenderLayout] = {
    layout.name: layout
    for layout in (
        RenderLayout(
            name="prompt-completion",
            kind=SFT,
            summary="Rendered conversations: `prompt` is the text up to the last answer (the generation prompt "
            "included) and `completion` that answer with its end-of-turn marker, written by the chat template.",
            trl="`SFTTrainer` reads `prompt` and `completion` (standard prompt-completion; the loss is on the "
            "completion). The text is already rendered: TRL applies no template to it.",
            llamafactory=LlamaFactory(
                entry={"formatting": "alpaca", "columns": {"prompt": "prompt", "response": "completion"}},
                note=RENDERED + ".",
            ),
            axolotl=Axolotl(dataset={"type": AXOLOTL_PROMPT_COMPLETION}),
            prompt_completion=True,
        ),
        RenderLayout(
            name="text",
            kind=SFT,
            summary="Rendered conversations: `text` is the whole conversation as the chat template writes it, "
            "`assistant_spans` the [start, end) characters of every assistant turn (what a model learns to write).",
            trl='`SFTTrainer` reads `text` as language modeling (`dataset_text_field="text"`): every token is '
            "trained. `curate train-sft` reads this folder too and trains the assistant spans only.",
            llamafactory=LlamaFactory(
                entry={"formatting": "alpaca", "columns": {"prompt": "text"}},
                note="Use it for pretraining-style training (`stage: pt`), which trains every token.",
            ),
            axolotl=Axolotl(
                dataset={"type": "completion", "field": "text"}, note="`type: completion` trains every token."
            ),
            text=True,
        ),
        RenderLayout(
            name="all",
            kind=SFT,
            summary="Conversations with their rendering: `messages` (and Alpaca's fields for Alpaca data), `prompt` "
            "and `completion` as the chat template writes them.",
            trl="`SFTTrainer` cannot tell whether to read `messages` or `prompt`/`completion` here (it picks by "
            "hash order): drop one, e.g. `dataset.remove_columns(['prompt', 'completion'])` to train on the "
            "conversations, or render with `--columns prompt-completion`.",
            llamafactory=LlamaFactory(
                entry={"formatting": "sharegpt", "columns": {"messages": "messages"}, "tags": MESSAGES_TAGS},
                note="The entry reads `messages`, which LLaMA-Factory renders with its own template.",
            ),
            axolotl=Axolotl(
                dataset=AXOLOTL_CHAT_TEMPLATE,
                note="The entry reads `messages`, which Axolotl renders with the config's chat template.",
            ),
            conversation=True,
            prompt_completion=True,
        ),
    )
}
DEFAULT_LAYOUT = "prompt-completion"
