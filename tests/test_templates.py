"""Templates: exact Alpaca strings, the sandbox, tokenizer templates, parity with
transformers' apply_chat_template, and assistant spans found without generation tags."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from curate.errors import UserError
from curate.instruct.spans import assistant_spans, generation_tag_spans, token_mask
from curate.instruct.templates import (
    ChatTemplate,
    TemplateError,
    TemplateRenderError,
    load_template,
    shipped_templates,
    tokenizer_template,
)

from .tiny_tokenizer import markers_in, train_tokenizer

SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
USERS = [
    "What is the capital of France?",
    "그럼 한국의 수도는 어디인가요?",
    "Write a haiku about rain.\nKeep it short.",
    "Thanks! One last thing: 2 + 2?",
]
ANSWERS = [
    "The capital of France is Paris.",
    "한국의 수도는 서울입니다.",
    "Soft rain on the roof\nthe garden drinks in silence\nmorning smells of earth",
    "2 + 2 = 4.",
]
SYSTEM = "You are a helpful assistant. Answer briefly."


def conversations() -> list[tuple[list[dict], bool]]:
    """1-4 turns, with and without a system message; ending with an answer, or with a
    question and add_generation_prompt."""
    cases = []
    for system in (False, True):
        for turns in range(1, 5):
            messages = [{"role": "system", "content": SYSTEM}] if system else []
            for turn in range(turns):
                messages += [{"role": "user", "content": USERS[turn]}, {"role": "assistant", "content": ANSWERS[turn]}]
            cases.append((messages, False))
            cases.append((messages[:-1], True))
    return cases


def as_parts(messages: list[dict]) -> list[dict]:
    return [{**message, "content": [{"type": "text", "text": message["content"]}]} for message in messages]


def shows_contents(text: str, messages: list[dict]) -> bool:
    return all(message["content"].strip() in text for message in messages)


def text_only_shape(template: ChatTemplate, messages: list[dict]) -> list[dict] | None:
    """The conversation as the template reads text: string contents, or typed text parts
    for templates that only read parts (idefics3, llava); None if it renders neither."""
    for shaped in (messages, as_parts(messages)):
        try:
            if shows_contents(template.render(shaped), messages):
                return shaped
        except (TemplateRenderError, TemplateError):
            continue
    return None


def shared_templates(shared_data: Path) -> dict[str, str]:
    return {path.stem: path.read_text() for path in sorted((shared_data / "chat_templates").glob("*.jinja"))}


# ------------------------------------------------------------------ shipped templates

ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)


def test_alpaca_renders_the_exact_prompts_alpaca_trained_with():
    template = load_template("alpaca", {"eos_token": "</s>"})
    instruction, given, output = "Translate to English.", "Hola, mundo", "Hello, world"
    messages = [{"role": "user", "content": f"{instruction}\n\n{given}"}, {"role": "assistant", "content": output}]
    rendered = assistant_spans(template, messages, instruction=instruction, input=given)
    prompt = ALPACA_WITH_INPUT.format(instruction=instruction, input=given)
    assert rendered.text == prompt + output + "</s>"
    assert [rendered.text[start:end] for start, end in rendered.spans] == [output + "</s>"]

    messages = [{"role": "user", "content": "Name a primary colour."}, {"role": "assistant", "content": "Blue"}]
    rendered = assistant_spans(template, messages, instruction="Name a primary colour.", input="")
    assert rendered.text == ALPACA_NO_INPUT.format(instruction="Name a primary colour.") + "Blue</s>"
    assert template.render(messages[:1], add_generation_prompt=True) == ALPACA_NO_INPUT.format(
        instruction="Name a primary colour."
    )


def test_every_shipped_template_renders_and_finds_spans():
    assert {"alpaca", "alpaca_ko", "chatml", "llama3"} <= set(shipped_templates())
    for name in shipped_templates():
        template = load_template(name, SPECIAL)
        for messages, add_generation_prompt in conversations():
            if add_generation_prompt:
                assert template.render(messages, add_generation_prompt=True)
                continue
            rendered = assistant_spans(template, messages)
            assert rendered.problem is None, (name, rendered.problem)
            answers = [message["content"] for message in messages if message["role"] == "assistant"]
            assert len(rendered.spans) == len(answers)
            for (start, end), answer in zip(rendered.spans, answers):
                assert rendered.text[start:end].startswith(answer), name


def test_korean_template_uses_korean_headings():
    template = load_template("alpaca_ko")
    text = template.render([{"role": "user", "content": "인사말을 써 주세요."}], add_generation_prompt=True)
    assert "### 지시문:\n인사말을 써 주세요." in text and text.endswith("### 응답:\n")


def test_unknown_template_names_the_shipped_ones():
    with pytest.raises(UserError, match="shipped templates: .*chatml"):
        load_template("no-such-template")


# ------------------------------------------------------------------ sandbox


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.__class__.__init__.__globals__ }}",
        "{{ raise_exception.__globals__['os'] }}",
        "{% set ns = namespace() %}{% set ns._secret = 1 %}{{ ns }}",
        "{{ cycler.__init__.__globals__.os.system('true') }}",
    ],
)
def test_templates_cannot_reach_python_internals(source):
    template = ChatTemplate(source, "evil.jinja")
    with pytest.raises(TemplateError, match="evil.jinja.*sandbox forbids"):
        template.render([{"role": "user", "content": "hi"}])


def test_a_template_cannot_mutate_the_conversation():
    template = ChatTemplate("{% set _ = messages.append({'role': 'user'}) %}{{ messages | length }}", "mutating")
    with pytest.raises(TemplateError, match="sandbox forbids"):
        template.render([{"role": "user", "content": "hi"}])


def test_a_syntax_error_names_the_template_and_line():
    with pytest.raises(TemplateError, match=r"broken.jinja: line 2"):
        ChatTemplate("ok\n{% if %}", "broken.jinja")


# ------------------------------------------------------------------ tokenizer folders


def test_tokenizer_template_from_config_and_from_jinja_file(tmp_path):
    chatml = (Path(__file__).resolve().parents[1] / "templates" / "chatml.jinja").read_text()
    config = {"chat_template": chatml, "eos_token": {"content": "<|im_end|>", "special": True}, "bos_token": None}
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tokenizer_config.json").write_text(json.dumps(config))
    template = tokenizer_template(tmp_path / "a")
    assert template.source == chatml and template.special_tokens == {"eos_token": "<|im_end|>"}

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    (tmp_path / "b" / "chat_template.jinja").write_text("{{ messages[0].content }}{{ eos_token }}")
    assert tokenizer_template(tmp_path / "b").render([{"role": "user", "content": "x"}]) == "x</s>"

    (tmp_path / "c").mkdir()
    with pytest.raises(UserError, match="has no chat template"):
        tokenizer_template(tmp_path / "c")


def test_tokenizer_saved_by_transformers_renders_like_transformers(tmp_path):
    tokenizer = train_tokenizer(["<|im_start|>", "<|im_end|>"], vocab_size=600)
    tokenizer.chat_template = (Path(__file__).resolve().parents[1] / "templates" / "chatml.jinja").read_text()
    tokenizer.save_pretrained(tmp_path)
    ours = tokenizer_template(tmp_path)
    for messages, add_generation_prompt in conversations():
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        assert ours.render(messages, add_generation_prompt=add_generation_prompt) == expected


# ------------------------------------------------------------------ parity and spans on real templates


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    from .conftest import SHARED_DATA

    sources = [path.read_text() for path in sorted((SHARED_DATA / "chat_templates").glob("*.jinja"))]
    sources += [path.read_text() for path in shipped_templates().values()]
    return train_tokenizer(markers_in(sources))


def test_rendering_equals_transformers_apply_chat_template(shared_data, tokenizer):
    compared, skipped = 0, []
    for name, source in shared_templates(shared_data).items():
        template = ChatTemplate(source, name, SPECIAL)
        rendered_any = False
        for messages, add_generation_prompt in conversations():
            shaped = text_only_shape(template, messages)
            if shaped is None:
                continue  # e.g. a template that refuses system messages
            expected = tokenizer.apply_chat_template(
                shaped, tokenize=False, add_generation_prompt=add_generation_prompt, chat_template=source
            )
            assert template.render(shaped, add_generation_prompt=add_generation_prompt) == expected, name
            compared += 1
            rendered_any = True
        if not rendered_any:
            skipped.append(name)
    print(
        f"\n{compared} renderings equal to transformers' byte for byte; templates rendering no text-only chat: {skipped}"
    )
    assert not skipped and compared > 700


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def answered_conversations(template: ChatTemplate):
    """(messages, the messages as the template reads them, their rendering with spans) for
    every conversation that ends with an answer."""
    for messages, add_generation_prompt in conversations():
        shaped = text_only_shape(template, messages)
        if add_generation_prompt or shaped is None:
            continue
        rendered = assistant_spans(template, shaped)
        assert rendered.problem is None, (template.name, rendered.problem)
        yield messages, shaped, rendered


def test_spans_match_generation_tags(shared_data):
    """Where a `*_training.jinja` template's tags start at the same place, the spans are
    equal. Where they differ, the tags also cover text that `add_generation_prompt` already
    gives the model (a role header, `<think>`), and curate's span starts after it."""
    equal, shifted, templates, ends_differently = 0, {}, 0, set()
    for name, source in shared_templates(shared_data).items():
        if not name.endswith("_training"):
            continue
        template = ChatTemplate(source, name, SPECIAL)
        assert template.has_generation_tags
        templates += 1
        for _, shaped, rendered in answered_conversations(template):
            text, tags = generation_tag_spans(template, shaped)
            assert text == rendered.text
            tags = _merged(tags)
            assert len(tags) == len(rendered.spans), name
            assistant_indexes = [index for index, message in enumerate(shaped) if message["role"] == "assistant"]
            for (start, end), (tag_start, tag_end), index in zip(rendered.spans, tags, assistant_indexes):
                if index in rendered.rewritten and end < tag_end:
                    # gpt-oss: the end-of-turn marker in history (<|end|>) differs from the one a
                    # final answer ends with (<|return|>); curate stops before it and reports it.
                    ends_differently.add(name)
                else:
                    assert end == tag_end, (name, text[start:end], text[tag_start:tag_end])
                if start == tag_start:
                    equal += 1
                    continue
                # The text the tags add lies in what add_generation_prompt appends to the history.
                history = template.render(shaped[:index])
                prompt = template.render(shaped[:index], add_generation_prompt=True)
                generation_prompt_starts = len(os.path.commonprefix([history, prompt]))
                assert generation_prompt_starts <= tag_start < start, (name, text[tag_start:start])
                assert prompt[tag_start:start] == text[tag_start:start], (name, text[tag_start:start])
                shifted.setdefault(name, text[tag_start:start])
    print(
        f"\n{templates} training templates: {equal} spans equal to the tags; in {len(shifted)} templates the tags "
        f"also cover generation-prompt text: {shifted}; reported as ending differently in history: "
        f"{sorted(ends_differently)}"
    )
    assert templates >= 20 and equal > 0


def test_tokens_inside_spans_are_exactly_the_assistant_tokens(shared_data, tokenizer):
    sources = shared_templates(shared_data) | {name: path.read_text() for name, path in shipped_templates().items()}
    checked = 0
    for name, source in sources.items():
        template = ChatTemplate(source, name, SPECIAL)
        for messages, _, rendered in answered_conversations(template):
            encoding = tokenizer(rendered.text, add_special_tokens=False, return_offsets_mapping=True)
            mask, cut = token_mask(encoding["offset_mapping"], rendered.spans, rendered.text)
            assert not cut, (name, [rendered.text[slice(*encoding["offset_mapping"][i])] for i in cut])
            offsets, ids = encoding["offset_mapping"], encoding["input_ids"]
            assert sum(mask) > 0
            for start, end in rendered.spans:
                # whitespace at a span's edge may travel with the neighbouring token (see token_mask)
                inside = [token for token, (first, _), kept in zip(ids, offsets, mask) if kept and start <= first < end]
                assert tokenizer.decode(inside).strip() == rendered.text[start:end].strip(), name
            span_text = "".join(rendered.text[start:end] for start, end in rendered.spans)
            answers = [message["content"].strip() for message in messages if message["role"] == "assistant"]
            assert all(answer in span_text for answer in answers), name
            checked += 1
    print(f"\n{checked} conversations over {len(sources)} templates: the masked tokens decode to exactly the spans")


# ------------------------------------------------------------------ rewritten and dropped messages


def test_a_template_that_rewrites_thinking_is_reported(shared_data):
    template = ChatTemplate((shared_data / "chat_templates" / "qwen3.jinja").read_text(), "qwen3", SPECIAL)
    messages = [
        {"role": "user", "content": "2 + 2?"},
        {"role": "assistant", "content": "<think>\nsimple sum\n</think>\n\n4"},
        {"role": "user", "content": "And 3 + 3?"},
        {"role": "assistant", "content": "6"},
    ]
    rendered = assistant_spans(template, messages)
    assert rendered.problem is None
    assert rendered.rewritten == [1]  # the earlier turn's thinking is dropped by the template
    first = rendered.text[slice(*rendered.spans[0])]
    assert "simple sum" not in first and first.startswith("4")


def test_a_template_that_drops_an_assistant_message_is_reported():
    skip_first_answer = (
        "{% for m in messages %}{% if not (m.role == 'assistant' and loop.index0 == 1) %}"
        "<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endif %}{% endfor %}"
    )
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    rendered = assistant_spans(ChatTemplate(skip_first_answer, "lossy"), messages)
    assert rendered.problem == "the template drops message 1 (assistant)" and rendered.spans == []


def test_token_mask_reports_tokens_cut_by_a_span():
    text = "abcdefghi"
    mask, cut = token_mask([(0, 3), (3, 6), (6, 9)], [(4, 9)], text)
    assert mask == [0, 0, 1] and cut == [1]
    text = "<a>x</s> [b]"  # the span's trailing space merges into " [": the token stays outside
    mask, cut = token_mask([(0, 3), (3, 4), (4, 8), (8, 10), (10, 12)], [(3, 9)], text)
    assert mask == [0, 1, 1, 0, 0] and cut == []
