"""Every format curate reads or writes, one line each; the order is the order users see them in."""

from __future__ import annotations

from curate.instruct.formats import (
    alpaca,
    hh_rlhf,
    messages,
    preference,
    prompt_completion,
    seed_tasks,
    sharegpt,
    sharegpt_preference,
)
from curate.instruct.formats.base import Format

FORMATS: dict[str, Format] = {
    spec.name: spec
    for spec in (
        alpaca.FORMAT,
        seed_tasks.FORMAT,
        messages.FORMAT,
        sharegpt.FORMAT,
        prompt_completion.FORMAT,
        hh_rlhf.FORMAT,
        sharegpt_preference.FORMAT,
        preference.FORMAT,
    )
}
