"""Chat and instruction templates: sandboxed jinja2 rendering, as transformers renders them.

A template here is what Hugging Face calls a chat template: jinja2 source that turns
`messages` into one string. curate renders it the way `transformers`' `apply_chat_template`
does (same environment options, filters and globals), so the text is byte for byte what a
model trained or served with that tokenizer sees, but in `ImmutableSandboxedEnvironment`
with no way to reach Python internals.

Where each assistant turn sits in the rendered text is found in spans.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import jinja2
import xxhash
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols

from curate.errors import UserError
from curate.instruct.template_budget import MAX_TEMPLATE_CHARS, BudgetExceeded
from curate.instruct.template_limits import BudgetedSandbox, render_within_budget

# The project's own templates; `--template NAME` looks here first.
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
PROMPTS_DIR = TEMPLATES_DIR / "prompts"  # the requests curate sends to models (self-instruct, judges)

# Special tokens a tokenizer passes to its chat template (transformers passes its whole
# special-tokens map as template variables).
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")

# Private-use characters: no tokenizer or template gives them meaning, so markers made of them
# cannot collide with real text or template scaffolding (spans.py finds the tagged spans by them).
TAG_OPEN, TAG_CLOSE = "\ue002", "\ue003"

tracking_tags: ContextVar[bool] = ContextVar("curate_tracking_generation_tags", default=False)


class TemplateError(UserError):
    """A template failed to load or render (the message names the template and why)."""


class _GenerationTags(Extension):
    """`{% generation %}...{% endgeneration %}`: renders its body unchanged, and when tag
    tracking is on wraps it in private-use markers so `generation_tag_spans` can find it."""

    tags: ClassVar = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_generated", []), [], [], body).set_lineno(lineno)

    def _generated(self, caller: Callable[[], str]) -> str:
        text = caller()
        return f"{TAG_OPEN}{text}{TAG_CLOSE}" if tracking_tags.get() else text


class _SafeNamespace(jinja2.utils.Namespace):
    """`namespace()` that refuses underscore names, which could shadow Python internals."""

    def __init__(*args, **kwargs):
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _SafeNamespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name, value) -> None:
        _SafeNamespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(f"a template may not set the attribute {name!r}")


def _raise_exception(message: str):
    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


@lru_cache(maxsize=1)
def sandbox() -> BudgetedSandbox:
    """The environment every template renders in: the options and globals chat templates
    are written against (trim_blocks, lstrip_blocks, loop controls, tojson, raise_exception,
    strftime_now, namespace), inside jinja2's immutable sandbox with a time and memory
    budget per rendering (template_limits.py)."""
    environment = BudgetedSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTags, loopcontrols])
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    environment.globals["namespace"] = _SafeNamespace
    return environment


@lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    return sandbox().from_string(source)


@dataclass(frozen=True)
class ChatTemplate:
    """A template's source, where it came from, and the special tokens it renders with."""

    source: str
    name: str
    special_tokens: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.source) > MAX_TEMPLATE_CHARS:
            raise TemplateError(
                f"template {self.name} is {len(self.source):,} characters; templates may be at most "
                f"{MAX_TEMPLATE_CHARS:,} (real chat templates are under 30,000)"
            )
        try:
            _compile(self.source)
        except jinja2.exceptions.TemplateSyntaxError as error:
            raise TemplateError(f"template {self.name}: line {error.lineno}: {error.message}") from None
        except BudgetExceeded as error:  # a constant jinja2 folds while compiling
            raise TemplateError(
                f"template {self.name}: {error}; templates render within a time and memory budget"
            ) from None
        except (RecursionError, MemoryError, SyntaxError):  # SyntaxError: Python's own nesting limit
            raise TemplateError(f"template {self.name} is nested too deeply to compile") from None

    def render(self, messages: Sequence[Mapping], add_generation_prompt: bool = False, **variables) -> str:
        """The conversation as text, exactly as `apply_chat_template(..., tokenize=False)` gives it."""
        context = {
            **self.special_tokens,
            **variables,
            "messages": messages,
            "add_generation_prompt": add_generation_prompt,
        }
        context.setdefault("tools", None)
        context.setdefault("documents", None)
        try:
            return render_within_budget(_compile(self.source), context)
        except BudgetExceeded as error:
            raise TemplateError(
                f"template {self.name}: {error}; templates render within a time and memory budget"
            ) from None
        except RecursionError:
            raise TemplateError(f"template {self.name} recursed too deeply (a macro calling itself?)") from None
        except jinja2.exceptions.SecurityError as error:
            raise TemplateError(
                f"template {self.name} tried something the sandbox forbids ({error}); "
                "templates may only read the conversation, not Python internals"
            ) from None
        except jinja2.exceptions.TemplateError as error:
            raise TemplateRenderError(self.name, str(error)) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
            raise TemplateRenderError(self.name, f"{type(error).__name__}: {error}") from None

    @property
    def fingerprint(self) -> str:
        """A hash of the source: recorded in manifests, so an edited template rebuilds a folder."""
        return xxhash.xxh3_64_hexdigest(self.source.encode("utf-8"))

    @property
    def has_generation_tags(self) -> bool:
        return "generation" in self.source and any(
            token[1] == "name" and token[2] == "generation" for token in sandbox().lex(self.source)
        )


class TemplateRenderError(Exception):
    """The template could not render this conversation (it raised, or the data did not fit).

    Not a UserError: one row failing does not stop a run; the row goes to rejected/.
    """

    def __init__(self, template: str, detail: str) -> None:
        super().__init__(f"template {template} could not render this conversation: {detail}")
        self.detail = detail


# ------------------------------------------------------------------------------ loading


def shipped_templates() -> dict[str, Path]:
    """The templates that ship with curate, by name (file name without `.jinja`)."""
    if not TEMPLATES_DIR.is_dir():
        return {}
    return {path.stem: path for path in sorted(TEMPLATES_DIR.glob("*.jinja"))}


def load_template(name_or_path: str, special_tokens: Mapping[str, str] | None = None) -> ChatTemplate:
    """A shipped template by name (`alpaca`, `chatml`, ...) or a `.jinja` file by path."""
    shipped = shipped_templates()
    if name_or_path in shipped:
        path = shipped[name_or_path]
    else:
        path = Path(name_or_path)
        if not path.is_file():
            names = ", ".join(shipped) or "none"
            raise UserError(f"no template named {name_or_path!r} and no such file (shipped templates: {names})")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read template {path}: {error}") from None
    return ChatTemplate(source, name_or_path, dict(special_tokens or {}))


def chosen_template(
    name_or_path: str | None, tokenizer: str | os.PathLike | None = None, eos_token: str | None = None
) -> ChatTemplate:
    """The template `curate render` is asked for: --template (shipped name or file), else
    --tokenizer's own; with the tokenizer folder's special tokens, `eos_token` overriding."""
    if not name_or_path and not tokenizer:
        raise UserError("pass --template NAME|PATH or --tokenizer DIR")
    special = tokenizer_special_tokens(tokenizer) if tokenizer else {}
    if eos_token is not None:
        special["eos_token"] = eos_token
    if name_or_path:
        return load_template(name_or_path, special)
    return replace(tokenizer_template(tokenizer), special_tokens=special)


def _special_token_text(value) -> str | None:
    # tokenizer_config.json stores a special token either as text or as an AddedToken dict.
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def tokenizer_template(directory: str | os.PathLike, name: str | None = None) -> ChatTemplate:
    """A tokenizer folder's own chat template and special tokens, read from its files.

    The template comes from `chat_template.jinja` (newer transformers) or the
    `chat_template` key of `tokenizer_config.json`; a config with several named templates
    uses `default` unless `name` picks another. No model code is imported or run.
    """
    folder = Path(directory)
    config = _tokenizer_config(folder)
    source = _template_source(folder, config, name)
    return ChatTemplate(source, str(folder), _special_tokens(config))


def loaded_tokenizer_template(tokenizer, name: str) -> ChatTemplate | None:
    """The chat template of a loaded Hugging Face tokenizer (the "default" one when it has
    several, as transformers picks), with the variables `apply_chat_template` passes: its
    special tokens. None when it has none. For a folder on disk, `tokenizer_template` reads
    the files without loading the tokenizer."""
    source = tokenizer.chat_template
    if isinstance(source, dict):
        source = source.get("default")
    if not isinstance(source, str) or not source.strip():
        return None
    return ChatTemplate(source=source, name=name, special_tokens=tokenizer_special_token_map(tokenizer))


def template_for(tokenizer, template_name: str | None, model_name: str) -> ChatTemplate:
    """--template (a shipped name or .jinja file) with a loaded tokenizer's special tokens, else
    the model's own chat template; a model without one is told to pass --template."""
    if template_name:
        return load_template(template_name, tokenizer_special_token_map(tokenizer))
    template = loaded_tokenizer_template(tokenizer, model_name)
    if template is None:
        raise UserError(f"{model_name} has no chat template; pass --template (e.g. chatml or alpaca)")
    return template


def tokenizer_special_token_map(tokenizer) -> dict[str, str]:
    """A loaded tokenizer's special tokens that are single strings (bos_token, eos_token, ...)."""
    return {key: value for key, value in tokenizer.special_tokens_map.items() if isinstance(value, str)}


def _tokenizer_config(folder: Path) -> dict:
    if not folder.is_dir():
        raise UserError(f"tokenizer folder {folder} does not exist")
    config_path = folder / "tokenizer_config.json"
    if not config_path.is_file():
        return {}
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read {config_path}: {error}") from None


def tokenizer_special_tokens(directory: str | os.PathLike) -> dict[str, str]:
    """The special tokens (bos_token, eos_token, ...) a tokenizer folder passes to templates."""
    return _special_tokens(_tokenizer_config(Path(directory)))


def _special_tokens(config: dict) -> dict[str, str]:
    return {key: text for key in SPECIAL_TOKEN_NAMES if (text := _special_token_text(config.get(key))) is not None}


def _template_source(folder: Path, config: dict, name: str | None) -> str:
    jinja_file = folder / "chat_template.jinja"
    if name is None and jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    named = {path.stem: path for path in sorted((folder / "additional_chat_templates").glob("*.jinja"))}
    if name is not None and name in named:
        return named[name].read_text(encoding="utf-8")
    template = config.get("chat_template")
    if isinstance(template, list):  # several named templates: [{"name": ..., "template": ...}]
        by_name = {item.get("name"): item.get("template") for item in template if isinstance(item, dict)}
        wanted = name or "default"
        if wanted not in by_name:
            raise UserError(f"{folder} has no chat template named {wanted!r} (it has: {', '.join(map(str, by_name))})")
        return by_name[wanted]
    if isinstance(template, str) and name is None:
        return template
    if name is not None:
        raise UserError(f"{folder} has no chat template named {name!r}")
    raise UserError(
        f"{folder} has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json)"
    )


class PromptTemplate:
    """A prompt (self-instruct's request, a judge's rubric) compiled and rendered in curate's
    sandbox. `source` is a path to a jinja2 file, a shipped prompt's name in templates/prompts/
    ("judge_pairwise"), or the jinja2 text itself (a string that holds a newline or a "{" is
    text, as `curate prefs --rubric` passes it). `what` names it in errors ("judge rubric").
    Every problem, at compile or render time, is a UserError naming the file (or saying the
    template was given as text)."""

    def __init__(self, source: str | os.PathLike, what: str) -> None:
        import jinja2

        self.what = what
        self.path: Path | None = None
        if isinstance(source, str) and ("\n" in source or "{" in source):
            text, self.label = source, f"the {what}"
        else:
            path = Path(source)
            if not path.is_file() and isinstance(source, str) and (PROMPTS_DIR / f"{source}.jinja").is_file():
                path = PROMPTS_DIR / f"{source}.jinja"
            self.path, self.label = path, f"the {what} {path}"
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                detail = getattr(error, "strerror", None) or error
                raise UserError(f"cannot read {self.label}: {detail}") from None
        self.source = text
        self.fingerprint = xxhash.xxh3_64_hexdigest(text.encode("utf-8"))
        try:
            self._template = sandbox().from_string(text)
        except jinja2.exceptions.TemplateSyntaxError as error:
            raise UserError(f"{self.label} does not parse: line {error.lineno}: {error.message}") from None
        except jinja2.exceptions.TemplateError as error:
            raise UserError(f"{self.label} does not parse: {error}") from None
        except (BudgetExceeded, RecursionError, MemoryError, SyntaxError):
            raise UserError(f"{self.label} is nested too deeply to compile") from None

    def render(self, **variables) -> str:
        import jinja2

        try:
            return render_within_budget(self._template, variables)
        except BudgetExceeded as error:
            raise UserError(f"{self.label}: {error}; templates render within a time and memory budget") from None
        except RecursionError:
            raise UserError(f"{self.label} recursed too deeply (a macro calling itself?)") from None
        except jinja2.exceptions.SecurityError as error:
            raise UserError(
                f"{self.label} tried something the sandbox forbids ({error}); a prompt template may only read its variables"
            ) from None
        except jinja2.exceptions.TemplateError as error:
            raise UserError(f"{self.label} could not render: {error}") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as error:
            raise UserError(f"{self.label} could not render: {type(error).__name__}: {error}") from None
