"""Where each assistant turn sits in a rendered conversation: the characters a model learns to write.

Found for any template, without `{% generation %}` tags: each assistant content is located by
rendering again with a sentinel in its place, the turn starts where the prompt rendered alone
ends, and ends after the end-of-turn marker the template writes. `token_mask` turns spans into
a token-level loss mask; `generation_tag_spans` reads a tagged template's own spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from curate.instruct.templates import TAG_CLOSE, TAG_OPEN, ChatTemplate, TemplateRenderError, tracking_tags

# Private-use characters: a sentinel made of them cannot collide with real text or template scaffolding.
_SENTINEL = "\ue000curate-assistant-{}\ue001"


@dataclass
class Rendered:
    """A rendered conversation with its assistant spans.

    `spans[k]` is the `[start, end)` character range of the k-th assistant message: what a
    model must generate for that turn (the content and the end-of-turn marker after it).
    `rewritten` lists the assistant messages (by index in `messages`) that the template
    changed: content trimmed or thinking removed (the span covers the changed text), or an
    end-of-turn marker that differs from the one the model emits when the turn is last (the
    span then stops where the two differ).
    `problem` is set when spans cannot be trusted; the spans are then empty.
    """

    text: str
    spans: list[tuple[int, int]]
    rewritten: list[int] = field(default_factory=list)
    problem: str | None = None


def _common_prefix_length(first: str, second: str) -> int:
    limit = min(len(first), len(second))
    if first[:limit] == second[:limit]:
        return limit
    low, high = 0, limit  # binary search on prefix equality: strings here can be long
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _with_content(messages: Sequence[Mapping], index: int, text: str) -> list[dict]:
    """A copy of `messages` with message `index`'s text replaced (string or typed parts)."""
    copied = [dict(message) for message in messages]
    content = copied[index].get("content")
    if isinstance(content, list):
        parts = [dict(part) for part in content]
        for part in parts:
            if part.get("type") == "text":
                part["text"] = text
                break
        copied[index]["content"] = parts
    else:
        copied[index]["content"] = text
    return copied


def message_text(message: Mapping) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return content if isinstance(content, str) else ""


def _locate(template: ChatTemplate, messages, index: int, text: str, variables: dict) -> tuple[int, int] | str:
    """Where message `index`'s content sits in `text`: (start, end); or a problem description."""
    sentinel = _SENTINEL.format(index)
    swapped = _with_content(messages, index, sentinel)
    marked = template.render(swapped, **variables)
    found = marked.count(sentinel)
    if found == 0:
        return f"the template drops message {index} ({messages[index].get('role')})"
    if found > 1:
        return f"the template repeats message {index} ({messages[index].get('role')})"
    before, after = marked.split(sentinel)
    if not (text.startswith(before) and text.endswith(after) and len(before) + len(after) <= len(text)):
        return f"the template renders the rest of the conversation differently when message {index} changes"
    return len(before), len(text) - len(after)


def assistant_spans(template: ChatTemplate, messages: Sequence[Mapping], **variables) -> Rendered:
    """Render `messages` and find each assistant turn's span, without `{% generation %}` tags.

    Conversations with the same roles share their layout: it is worked out once on a
    skeleton (every content a sentinel) and reused whenever the real rendering is exactly
    the skeleton with the contents put back. Otherwise each message is located on its own
    (`locate_spans`), which also catches templates that trim or rewrite a content.
    """
    text = template.render(messages, **variables)
    layout = _layout(template, messages, variables)
    if layout is not None:
        mapped = layout.spans_for(text, [message_text(message) for message in messages])
        if mapped is not None:
            return Rendered(text, mapped)
    return locate_spans(template, messages, text, **variables)


@dataclass(frozen=True)
class _Layout:
    skeleton: str
    sentinels: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def spans_for(self, text: str, contents: list[str]) -> list[tuple[int, int]] | None:
        """The skeleton's spans moved onto `text`, if `text` is the skeleton with `contents` put back."""
        pieces, boundaries, cursor = [], [], 0
        for sentinel, content in zip(self.sentinels, contents):
            at = self.skeleton.index(sentinel, cursor)
            pieces += [self.skeleton[cursor:at], content]
            boundaries.append((at, len(content) - len(sentinel)))
            cursor = at + len(sentinel)
        pieces.append(self.skeleton[cursor:])
        if "".join(pieces) != text:
            return None

        def moved(position: int) -> int:
            return position + sum(shift for at, shift in boundaries if at < position)

        return [(moved(start), moved(end)) for start, end in self.spans]


_LAYOUTS: dict[tuple, _Layout | None] = {}


def _layout(template: ChatTemplate, messages: Sequence[Mapping], variables: dict) -> _Layout | None:
    roles = tuple((message.get("role"), isinstance(message.get("content"), list)) for message in messages)
    key = (template.source, tuple(sorted(template.special_tokens.items())), roles, tuple(sorted(variables)))
    if key not in _LAYOUTS:
        if len(_LAYOUTS) > 4096:
            _LAYOUTS.clear()
        sentinels = tuple(_SENTINEL.format(f"m{index}") for index in range(len(messages)))
        skeleton_messages = list(messages)
        for index, sentinel in enumerate(sentinels):
            skeleton_messages = _with_content(skeleton_messages, index, sentinel)
        try:
            skeleton = template.render(skeleton_messages, **variables)
            rendered = locate_spans(template, skeleton_messages, skeleton, **variables)
        except TemplateRenderError:
            rendered = None
        usable = (
            rendered is not None
            and rendered.problem is None
            and not rendered.rewritten
            and all(skeleton.count(sentinel) == 1 for sentinel in sentinels)
        )
        _LAYOUTS[key] = _Layout(skeleton, sentinels, tuple(rendered.spans)) if usable else None
    return _LAYOUTS[key]


def locate_spans(template: ChatTemplate, messages: Sequence[Mapping], text: str, **variables) -> Rendered:
    """`assistant_spans` worked out for this conversation alone, from its rendering `text`.

    For assistant message i:
    - its content is located by rendering again with that content replaced by a sentinel:
      the text before and after the sentinel must equal the real rendering's start and
      end, or the template is not rendering that message as given (reported);
    - the turn starts where the real rendering leaves the prompt the model would be given
      to answer it: `messages[:i]` rendered with `add_generation_prompt=True`;
    - the turn ends after the text that follows the content both when the conversation
      goes on and when it ends with this message: the end-of-turn marker.
    """
    spans: list[tuple[int, int]] = []
    rewritten: list[int] = []
    previous_end = 0
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        located = _locate(template, messages, index, text, variables)
        if isinstance(located, str):
            return Rendered(text, [], rewritten, located)
        content_start, content_end = located
        if text[content_start:content_end] != message_text(message):
            rewritten.append(index)
        prompt = template.render(messages[:index], add_generation_prompt=True, **variables) if index else ""
        start = min(_common_prefix_length(prompt, text), content_start)
        if index:
            # The prompt rendered alone must reach past the previous message and turn, or the
            # template renders the history differently when more follows.
            previous = _locate(template, messages, index - 1, text, variables)
            if isinstance(previous, str) or start < max(previous[1], previous_end):
                return Rendered(
                    text, [], rewritten, f"the prompt before message {index} renders differently on its own"
                )
        ending = _ending(template, messages, index, variables)
        if ending is None:
            return Rendered(text, [], rewritten, f"the template cannot end a conversation with message {index}")
        matched = _common_prefix_length(ending, text[content_end:])
        if matched < len(ending):
            # The turn ends differently when the conversation goes on (gpt-oss closes a final
            # answer with <|return|>, and with <|end|> in history): keep what both share, but
            # never half a marker such as "<|".
            matched = _before_open_marker(ending[:matched])
            if index not in rewritten:
                rewritten.append(index)
        end = content_end + matched
        spans.append((start, end))
        previous_end = end
    return Rendered(text, spans, rewritten)


def _before_open_marker(text: str) -> int:
    opening = text.rfind("<")
    return opening if opening != -1 and ">" not in text[opening:] else len(text)


def _ending(template: ChatTemplate, messages, index: int, variables: dict) -> str | None:
    """What the template writes after message `index`'s content when the conversation ends there."""
    sentinel = _SENTINEL.format(index)
    try:
        marked = template.render(_with_content(messages[: index + 1], index, sentinel), **variables)
    except TemplateRenderError:
        return None
    if marked.count(sentinel) != 1:
        return None
    return marked.split(sentinel)[1]


# ------------------------------------------------------------------------------ tags


@contextmanager
def _tracking() -> Iterator[None]:
    token = tracking_tags.set(True)
    try:
        yield
    finally:
        tracking_tags.reset(token)


def generation_tag_spans(template: ChatTemplate, messages: Sequence[Mapping], **variables) -> tuple[str, list]:
    """The text and the `[start, end)` spans of the template's own `{% generation %}` blocks."""
    with _tracking():
        marked = template.render(messages, **variables)
    spans, pieces, position, start = [], [], 0, None
    for character in marked:
        if character == TAG_OPEN:
            start = position
        elif character == TAG_CLOSE:
            if start is not None and position > start:
                spans.append((start, position))
            start = None
        else:
            pieces.append(character)
            position += 1
    return "".join(pieces), spans


def token_mask(
    offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]], text: str
) -> tuple[list[int], list[int]]:
    """1 for tokens inside an assistant span, else 0; and the tokens a span boundary cuts.

    `offsets` are the tokens' `[start, end)` character offsets in `text` (a fast
    tokenizer's `return_offsets_mapping`). A token that crosses a span boundary only with
    whitespace (a space after an end-of-turn marker that merges with the next header, as
    " [" in "</s> [INST]") belongs to the side holding its other characters. A token with
    real text on both sides is cut: it counts in if it starts inside the span, and is
    returned so callers can report it, since masking it either way is wrong.
    """
    # Vectorised: a conversation has hundreds of tokens and few spans; only tokens that
    # cross a boundary (rare) are looked at one by one.
    ordered = np.array(sorted(spans), dtype=np.int64).reshape(-1, 2)
    bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    token_starts, token_ends = bounds[:, 0], bounds[:, 1]
    mask = np.zeros(len(bounds), dtype=np.int8)
    cut: list[int] = []
    if len(ordered) == 0 or len(bounds) == 0:
        return mask.tolist(), cut
    # the last span starting before each token's end: the only one a token can be in or cross
    which = np.searchsorted(ordered[:, 0], token_ends, side="left") - 1
    has_span = which >= 0
    span_starts = np.where(has_span, ordered[np.maximum(which, 0), 0], 0)
    span_ends = np.where(has_span, ordered[np.maximum(which, 0), 1], 0)
    nonempty = token_ends > token_starts
    overlaps = has_span & nonempty & (token_starts < span_ends) & (token_ends > span_starts)
    contained = overlaps & (token_starts >= span_starts) & (token_ends <= span_ends)
    mask[contained] = 1
    for position in np.flatnonzero(overlaps & ~contained).tolist():
        token_start, token_end = int(token_starts[position]), int(token_ends[position])
        span_start, span_end = int(span_starts[position]), int(span_ends[position])
        inner_start, inner_end = max(token_start, span_start), min(token_end, span_end)
        inner = text[inner_start:inner_end]
        outer = text[token_start:inner_start] + text[inner_end:token_end]
        if not inner.strip():
            continue
        if outer.strip():
            cut.append(position)
            if token_start < span_start:
                continue
        mask[position] = 1
    return mask.tolist(), cut
