"""The prompts a policy answers in train-ppo and train-grpo, with the columns a reward function reads.

Two kinds of data give prompts:
- prompt-only records, as RL datasets hold them: `{"prompt": "...", ...}` (TRL's standard
  form; the reward function then gets strings) or `{"prompt": [messages]}` / `{"messages":
  [... ending with a user turn]}` (conversational; the reward function gets message lists);
- any SFT or preference data curate reads (`curate convert`'s formats), whose prompt is the
  conversation up to its last user turn, as `curate prefs` takes it.

Every other column of a record (an `answer` to check against, a test case) is passed to the
reward functions by name, as TRL passes dataset columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.errors import UserError

PROMPT_COLUMNS = ("prompt", "messages")


@dataclass
class RLPrompt:
    id: str
    messages: list[dict]  # up to and including the last user turn
    conversational: bool  # False: the data gave the prompt as a string
    columns: dict = field(default_factory=dict)  # the record's other columns, for reward functions

    @property
    def as_given(self):
        """The prompt as the data gave it: a string, or the message list."""
        return self.messages[-1]["content"] if not self.conversational else self.messages


def read_prompts(inputs: list[str]) -> tuple[list[RLPrompt], list[dict]]:
    """The prompts of `inputs`, and the records that hold none (`{"id", "reason", "place"}`)."""
    from curate.instruct.rows import raw_records

    records = raw_records(list(inputs))
    first = next(records, None)
    if first is None:
        raise UserError(f"{', '.join(inputs)} holds no record")
    if _is_prompt_only(first[0]):
        prompts, rejected = [], []
        for number, (record, place) in enumerate([first, *records]):
            prompt = _prompt_only(record, number)
            if prompt is None:
                rejected.append({"id": str(record.get("id", number)), "reason": "no_prompt", "place": place})
            else:
                prompts.append(prompt)
        return _checked(prompts, inputs), rejected
    return _from_canonical_rows(inputs)


def _is_prompt_only(record: dict) -> bool:
    if "chosen" in record or "completion" in record:
        return False
    if isinstance(record.get("prompt"), str | list):
        return True
    messages = record.get("messages")
    return isinstance(messages, list) and bool(messages) and _role(messages[-1]) == "user"


def _role(message) -> str | None:
    return message.get("role") if isinstance(message, dict) else None


def _prompt_only(record: dict, number: int) -> RLPrompt | None:
    given = record.get("prompt", record.get("messages"))
    columns = {key: value for key, value in record.items() if key not in PROMPT_COLUMNS}
    row_id = str(record.get("id", f"prompt-{number:07d}"))
    if isinstance(given, str):
        return RLPrompt(row_id, [{"role": "user", "content": given}], False, columns) if given.strip() else None
    if not isinstance(given, list) or not all(isinstance(message, dict) for message in given):
        return None
    users = [index for index, message in enumerate(given) if _role(message) == "user"]
    if not users or not all(isinstance(message.get("content"), str) for message in given):
        return None
    messages = [{"role": message["role"], "content": message["content"]} for message in given[: users[-1] + 1]]
    return RLPrompt(row_id, messages, True, columns)


def _from_canonical_rows(inputs: list[str]) -> tuple[list[RLPrompt], list[dict]]:
    from curate.instruct.rows import UnknownFormat, read_rows
    from curate.prefs.candidates import prompt_from_row

    try:
        found = read_rows(list(inputs), what="prompt")
    except UnknownFormat as error:
        columns = ", ".join(list(error.record)[:8])
        raise UserError(
            f"no prompt in the first record of {', '.join(inputs)} (columns: {columns}): give each record a "
            '"prompt" (text or messages) or "messages" ending with a user turn, or use SFT or preference data'
        ) from None
    prompts, rejected = [], []
    for number, (row, place) in enumerate(found.rows):
        prompt = prompt_from_row(row, found.kind, place)
        if prompt is None:
            rejected.append({"id": str(row.get("id", number)), "reason": "no_user_turn", "place": place})
            continue
        columns = dict(row.get("meta") or {})
        prompts.append(RLPrompt(prompt.id or f"prompt-{number:07d}", prompt.messages, True, columns))
    return _checked(prompts, inputs), rejected


def _checked(prompts: list[RLPrompt], inputs: list[str]) -> list[RLPrompt]:
    if not prompts:
        raise UserError(f"no prompt to answer in {', '.join(inputs)} (every record lacks a user turn)")
    return prompts
