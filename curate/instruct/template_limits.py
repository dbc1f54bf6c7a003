"""The time and memory budget every template renders within.

jinja2's sandbox keeps a template away from Python internals but not from the machine: a
few characters (`'a' * 10**9`, `|center(10**9)`, two nested `range(100000)` loops, a
string doubled forty times) take gigabytes or never finish. `BudgetedSandbox` is the
sandbox with a budget per render:

- time: a wall-clock deadline, checked at every call, filter, operator, printed value and
  loop iteration, so a loop that prints nothing stops too;
- size: no value the template makes (a string, a list, a mapping) may exceed
  MAX_VALUE_SIZE, and the rendered text may not exceed MAX_OUTPUT_CHARS. Operations whose
  result can be far larger than their operands (`*`, `+`, `~`, `%`, padding and
  replacing, joining, JSON with an indent...) are estimated before they run, so the
  memory is never taken; everything else is checked after;
- in all: the characters made during one render add up to at most MAX_MADE_CHARS, so
  many values each under the size budget cannot add up to gigabytes.

jinja2 has no such budget and no library adds one, so it is written here, on the hooks the
sandbox offers (intercepted operators, `call`, the filters table, the code generator).
Exceeding a budget raises BudgetExceeded; templates.py turns it into a one-line UserError
naming the template. Real chat templates stay far inside every budget and render the same
text.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, generate_lorem_ipsum

from curate.instruct.template_budget import (
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    MAX_RANGE,
    OBJECT,
    RENDER_SECONDS,
    SLOT,
    Budget,
    BudgetExceeded,
    active_budget,
    as_count,
    budgeted_iter,
    check_size,
    counted,
    current_budget,
    items_cost,
    join_size,
    method_estimate,
    percent_format_size,
    replace_size,
    size_of,
    str_format_size,
    word_cost,
)


def render_within_budget(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """The template's text, rendered within the budgets (BudgetExceeded when one runs out)."""
    budget = Budget(time.monotonic() + RENDER_SECONDS)
    token = active_budget.set(budget)
    try:
        parts, length = [], 0
        for chunk in template.generate(**variables):
            length += len(chunk)
            if length > MAX_OUTPUT_CHARS:
                raise BudgetExceeded(f"the rendered text is longer than {MAX_OUTPUT_CHARS:,} characters")
            budget.tick()
            parts.append(chunk)
        return "".join(parts)
    finally:
        active_budget.reset(token)


# ------------------------------------------------------------------------------ filters


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: Any = None, separators=None, sort_keys: bool = False
) -> str:
    """Plain JSON as transformers' chat templates expect (jinja2's own tojson escapes
    HTML characters), encoded piece by piece so a huge result stops at the budget."""
    indent_size = len(indent) if isinstance(indent, str) else as_count(indent)
    # One piece is a newline and the indent of the deepest level Python can nest.
    check_size(indent_size * sys.getrecursionlimit(), "JSON indent")
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    budget, parts, length = current_budget(), [], 0
    for part in encoder.iterencode(value):
        length += len(part)
        check_size(length, "string")
        budget.tick()
        parts.append(part)
    return "".join(parts)


@jinja2.pass_environment
def _sum(environment: BudgetedSandbox, iterable: Iterable, attribute: Any = None, start: Any = 0) -> Any:
    """jinja2's sum, adding lists and other sequences one by one within the budget
    (Python's sum of lists takes quadratic time in one call that no deadline can stop)."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    items = list(budgeted_iter(iterable))
    if isinstance(start, (int, float)) and all(isinstance(item, (int, float)) for item in items):
        check_ints("+", [start, *items])
        return sum(items, start)
    if isinstance(start, str):
        return sum(items, start)  # Python refuses with its own TypeError
    total = start
    for item in items:
        total = environment.call_binop(None, "+", total, item)
    return total


def check_ints(operator: str, values: list) -> None:
    bits = sum(abs(value).bit_length() for value in values if isinstance(value, int))
    if bits > MAX_INT_BITS * (len(values) if operator == "+" else 1):
        raise BudgetExceeded(f"rendering would make a number of more than {MAX_INT_BITS} bits")


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    check_size(as_count(n) * as_count(max) * 16, "string")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


# Per filter: a bound on what it makes (or holds while it works) from its bound arguments,
# which it may rewrite (a generator to join is listed first, to be measured).
def _operand(arguments: dict) -> Any:
    """What a filter works on: its first argument, named `value` or `s` as jinja2 happens to."""
    return arguments["value"] if "value" in arguments else arguments["s"]


def _join_estimate(arguments: dict) -> int:
    if arguments["attribute"] is not None:
        return items_cost(arguments["value"])
    arguments["value"] = items = list(budgeted_iter(arguments["value"]))
    return join_size(arguments["d"], items)


def _indent_estimate(arguments: dict) -> int:
    text, width = str(_operand(arguments)), arguments["width"]
    width = len(width) if isinstance(width, str) else as_count(width)
    return len(text) + (text.count("\n") + 1) * max(0, width)


def _wordwrap_estimate(arguments: dict) -> int:
    text, width, wrap = str(_operand(arguments)), as_count(arguments["width"]), arguments["wrapstring"]
    lines = len(text) // max(1, width) + text.count("\n") + 1
    return max(word_cost(text), len(text) + lines * len(wrap if isinstance(wrap, str) else "\n"))


def _format_estimate(arguments: dict) -> int:
    fmt = str(_operand(arguments))
    return percent_format_size(fmt, arguments["kwargs"] or tuple(arguments["args"]))


_FILTER_ESTIMATES: dict[str, Callable[[dict], int]] = {
    "center": lambda a: max(size_of(_operand(a)), as_count(a["width"])),
    "indent": _indent_estimate,
    "wordwrap": _wordwrap_estimate,
    "replace": lambda a: replace_size(str(_operand(a)), a["old"], a["new"], -1 if a["count"] is None else a["count"]),
    "join": _join_estimate,
    "format": _format_estimate,
    "batch": lambda a: items_cost(_operand(a)) + (SLOT * as_count(a["linecount"]) if a["fill_with"] is not None else 0),
    "slice": lambda a: items_cost(_operand(a)) + (OBJECT + SLOT) * as_count(a["slices"]),
    "pprint": lambda a: 4 * size_of(_operand(a)),
    "string": lambda a: 0 if isinstance(_operand(a), str) else 4 * size_of(_operand(a)),
    "escape": lambda a: 6 * size_of(_operand(a)),
    "e": lambda a: 6 * size_of(_operand(a)),
    "forceescape": lambda a: 6 * size_of(_operand(a)),
    "urlencode": lambda a: 12 * size_of(_operand(a)),
    "xmlattr": lambda a: 6 * size_of(a["d"]),
    "striptags": lambda a: word_cost(str(_operand(a))),
    "title": lambda a: word_cost(str(_operand(a))),
    "wordcount": lambda a: word_cost(str(_operand(a))),
    "urlize": lambda a: 3 * word_cost(str(_operand(a))),
    **{
        name: (lambda a: items_cost(_operand(a)))
        for name in ("list", "sort", "unique", "groupby", "map", "select", "reject", "selectattr", "rejectattr")
    },
}


def _filter_signature(function: Callable) -> inspect.Signature:
    """The parameters a filter is called with. inspect follows `__wrapped__` to the plain
    filter, which lacks the eval context jinja2's async-capable wrappers (list, map, join...)
    are passed first: that one is added back."""
    signature = inspect.signature(function)
    if _PassArg.from_obj(function) is not None and _PassArg.from_obj(inspect.unwrap(function)) is None:
        passed = inspect.Parameter("passed", inspect.Parameter.POSITIONAL_ONLY)
        signature = signature.replace(parameters=[passed, *signature.parameters.values()])
    return signature


def _budgeted_filter(name: str, function: Callable) -> Callable:
    estimate = _FILTER_ESTIMATES.get(name)
    signature = _filter_signature(function) if estimate is not None else None

    @functools.wraps(function)  # keeps jinja2's pass_context/pass_environment mark
    def run(*args, **kwargs):
        budget = current_budget()
        budget.tick()
        if signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_size(estimate(bound.arguments))
            args, kwargs = bound.args, bound.kwargs
        return counted(function(*args, **kwargs), budget)

    return run


# ------------------------------------------------------------------------------ the sandbox


def _is_budgeted(node: nodes.Expr) -> bool:
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.EnvironmentAttribute)
        and node.node.name == "budget_iterate"
    )


class _BudgetedCodeGenerator(CodeGenerator):
    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # A for-loop's iterable is iterated with a deadline check per item, so a loop that
        # prints nothing stops too. (jinja2 forbids new node types; a call of an environment
        # attribute is one of its own.)
        if not _is_budgeted(node.iter):
            lineno = node.iter.lineno
            wrapper = nodes.EnvironmentAttribute("budget_iterate", lineno=lineno)
            node.iter = nodes.Call(wrapper, [node.iter], [], None, None, lineno=lineno)
        super().visit_For(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            super().visit_Concat(node, frame)
            return
        self.write("environment.budget_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


def _finalize(value: Any) -> Any:
    """Every printed value: counted, and measured before str() prints a list whole."""
    budget = current_budget()
    budget.tick()
    size = len(value) if isinstance(value, str) else size_of(value)
    check_size(size)
    budget.add(size)
    return value


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, rendering within the budgets (see the module doc)."""

    code_generator_class = _BudgetedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.globals["range"] = self.budget_range
        self.globals["lipsum"] = _lipsum
        self.filters["tojson"] = _tojson
        self.filters["sum"] = _sum
        self.filters = {name: _budgeted_filter(name, function) for name, function in self.filters.items()}

    @staticmethod
    def budget_range(*args: int) -> range:
        numbers = range(*args)
        try:
            too_long = len(numbers) > MAX_RANGE
        except OverflowError:  # longer than sys.maxsize
            too_long = True
        if too_long:
            raise BudgetExceeded(f"range() of more than {MAX_RANGE:,} numbers (the sandbox's limit)")
        return numbers

    @staticmethod
    def budget_iterate(iterable: Iterable) -> Iterator:
        return budgeted_iter(iterable)

    @staticmethod
    def budget_concat(values: tuple) -> str:
        """`a ~ b ~ ...` as jinja2 joins it, measured first."""
        budget = current_budget()
        budget.tick()
        texts = []
        for value in values:
            if type(value) is not str:
                check_size(size_of(value))
                value = str(value)
            texts.append(value)
        length = sum(len(text) for text in texts)
        check_size(length, "string")
        budget.add(length)
        return "".join(texts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int):
                    check_size(size_of(sequence) * max(0, times))
            if isinstance(left, int) and isinstance(right, int):
                check_ints("*", [left, right])
        elif operator == "+" and isinstance(left, (str, bytes, list, tuple)):
            check_size(size_of(left) + size_of(right))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
            if right > MAX_INT_BITS or abs(left).bit_length() * right > MAX_INT_BITS:
                raise BudgetExceeded(f"rendering would make a number of more than {MAX_INT_BITS} bits")
        elif operator == "%" and isinstance(left, str):
            check_size(percent_format_size(left, right))
        return counted(super().call_binop(context, operator, left, right), budget)

    def call(__self, __context: Any, __obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes, int)) and not isinstance(owner, bool):
            size, args = method_estimate(owner, __obj.__name__, args, kwargs)
            check_size(size)
        return counted(super().call(__context, __obj, *args, **kwargs), budget)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatted = super().wrap_str_format(value)
        if formatted is None:
            return None
        fmt, mapping = value.__self__, value.__name__ == "format_map"

        @functools.wraps(formatted)
        def run(*args: Any, **kwargs: Any) -> str:
            if mapping and len(args) == 1 and isinstance(args[0], Mapping):
                check_size(str_format_size(fmt, (), args[0]))
            else:
                check_size(str_format_size(fmt, args, kwargs))
            return formatted(*args, **kwargs)

        return run
