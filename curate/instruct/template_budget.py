"""What a template rendering may spend, and how much an operation would make before it runs.

The budgets themselves (time, the size of one value, the characters made in all) and the
estimates template_limits.py checks before it lets an operator, method or filter run: an
upper bound on the size of its result from the size of its operands, so that `'a' * 10**9`
is refused without ever taking the memory.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2.utils import Namespace

# The budgets. A long conversation renders to a few MB; these are several times that.
RENDER_SECONDS = 5.0  # wall clock for one rendering
MAX_VALUE_SIZE = 16 * 2**20  # characters of one string (roughly bytes of one list or mapping)
MAX_OUTPUT_CHARS = 16 * 2**20  # characters of the rendered text
MAX_MADE_CHARS = 256 * 2**20  # characters made by one rendering in all
MAX_RANGE = 100_000  # numbers in one range(), as jinja2's sandbox allows
MAX_INT_BITS = 4096  # an integer a template computes (no real template needs more than 64)
MAX_TEMPLATE_CHARS = 2**20  # template source; real chat templates are under 30 KB

# What one item costs in the size estimate: a pointer in its container and the object's header.
SLOT = 8
OBJECT = 56


class BudgetExceeded(Exception):
    """A rendering went over one of its budgets; the message says which."""


class Budget:
    __slots__ = ("deadline", "made")

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.made = 0

    def tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded(f"rendering took longer than {RENDER_SECONDS:g} s (the time budget)")

    def add(self, size: int) -> None:
        self.made += size
        if self.made > MAX_MADE_CHARS:
            raise BudgetExceeded(f"rendering made more than {MAX_MADE_CHARS:,} characters in all (the memory budget)")


active_budget: ContextVar[Budget | None] = ContextVar("curate_template_budget", default=None)


def current_budget() -> Budget:
    # Outside a rendering (jinja2 folds constants when it compiles) the size limits still hold.
    return active_budget.get() or Budget(None)


# ------------------------------------------------------------------------------ sizes


def size_of(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """Roughly what `value` holds and what str() of it prints: characters of a string,
    and for containers a pointer and an object header per item, counting an item shared
    by several places each time (as printing would). Stops counting once past `limit`."""
    if isinstance(value, (str, bytes)):
        return len(value)
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += OBJECT
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, (dict, Namespace)):
            if isinstance(item, Namespace):
                item = item._Namespace__attrs
            total += 2 * SLOT * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += SLOT * len(item)
            if total <= limit:
                stack.extend(item)
        if total > limit:
            break
    return total


def _too_big(size: int, what: str = "value") -> BudgetExceeded:
    return BudgetExceeded(f"rendering would make a {what} of more than {MAX_VALUE_SIZE:,} characters (the size budget)")


def check_size(size: int, what: str = "value") -> None:
    if size > MAX_VALUE_SIZE:
        raise _too_big(size, what)


def counted(result: Any, budget: Budget) -> Any:
    """Check a result against the size budget and count what it made."""
    if isinstance(result, (str, bytes)):
        check_size(len(result), "string")
        budget.add(len(result))
    elif isinstance(result, (list, tuple, dict, set, frozenset, Namespace)):
        check_size(size_of(result), "list")
        budget.add(SLOT * len(result) if not isinstance(result, Namespace) else OBJECT)
    return result


def as_count(value: Any) -> int:
    """A width, count or repeat from a template as an int (a bool counts as 0 or 1)."""
    return int(value) if isinstance(value, int) else 0


def _number(digits: str) -> int:
    return MAX_VALUE_SIZE + 1 if len(digits) > 9 else int(digits)


def word_cost(text: str) -> int:
    """What splitting `text` into words holds at once (filters such as wordwrap do)."""
    spaces = text.count(" ") + text.count("\n") + text.count("\t") + 1
    return len(text) + (OBJECT + SLOT) * spaces


def items_cost(value: Any) -> int:
    """A string's characters become one object each when a filter lists them."""
    return (OBJECT + SLOT) * len(value) if isinstance(value, (str, bytes)) else 0


_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _int_args(values: Iterable[Any]) -> int:
    return sum(abs(value) for value in values if isinstance(value, int))


def percent_format_size(fmt: str, values: Any) -> int:
    """An upper bound on the length of `fmt % values`: the format, its arguments, and
    every width and precision it asks for (`*` takes them from the arguments)."""
    arguments = values if isinstance(values, tuple) else (values,)
    size = len(fmt) + sum(size_of(value) for value in arguments)
    for width, precision in _PERCENT_FIELD.findall(fmt):
        for number in (width, precision):
            if number == "*":
                size += _int_args(arguments)
            elif number:
                size += _number(number)
    return size


def str_format_size(fmt: str, args: tuple, kwargs: Mapping[str, Any]) -> int:
    """An upper bound on the length of `fmt.format(*args, **kwargs)`."""
    values = [*args, *kwargs.values()]
    size = len(fmt) + sum(size_of(value) for value in values)
    for _literal, _field, spec, _conversion in string.Formatter().parse(fmt):
        if spec:
            size += sum(_number(digits) for digits in re.findall(r"\d+", spec))
            if "{" in spec:  # a width or precision taken from the arguments
                size += _int_args(values)
    return size


# ------------------------------------------------------------------------------ methods


def _split_cost(text: str, args: tuple, kwargs: dict) -> int:
    sep = args[0] if args else kwargs.get("sep")
    parts = text.count(sep) + 1 if isinstance(sep, (str, bytes)) and sep else len(text) // 2 + 1
    return len(text) + (OBJECT + SLOT) * parts


def replace_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
        return len(text)
    places = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        places = min(places, count)
    return len(text) + places * max(0, len(new) - len(old))


def join_size(separator: Any, items: list) -> int:
    return sum(size_of(item) for item in items) + len(separator) * max(0, len(items) - 1)


def _arg(args: tuple, kwargs: dict, position: int, name: str, default: Any = None) -> Any:
    return args[position] if len(args) > position else kwargs.get(name, default)


def method_estimate(owner: Any, name: str, args: tuple, kwargs: dict) -> tuple[int, tuple]:
    """(a bound on the result's size, the arguments to call with) for a string or int method."""
    if isinstance(owner, int):
        if name == "to_bytes":
            return as_count(_arg(args, kwargs, 0, "length", 1)), args
        return 0, args
    if name in ("center", "ljust", "rjust", "zfill"):
        return max(len(owner), as_count(_arg(args, kwargs, 0, "width", 0))), args
    if name == "expandtabs":
        tabs = owner.count("\t" if isinstance(owner, str) else b"\t")
        return len(owner) + tabs * max(0, as_count(_arg(args, kwargs, 0, "tabsize", 8))), args
    if name == "replace" and len(args) >= 2:
        return replace_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count", -1)), args
    if name == "join" and args:
        items = list(budgeted_iter(args[0]))
        return join_size(owner, items), (items, *args[1:])
    if name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(value) for value in args[0].values() if isinstance(value, str)), default=1)
        return len(owner) * max(1, longest), args
    if name in ("split", "rsplit"):
        return _split_cost(owner, args, kwargs), args
    if name == "splitlines":
        return len(owner) + (OBJECT + SLOT) * (len(owner) // 2 + 1) if len(owner) > 4096 else 0, args
    if name == "striptags":
        return word_cost(owner), args
    return 0, args


def budgeted_iter(iterable: Iterable) -> Iterator:
    budget = current_budget()
    for item in iterable:
        budget.tick()
        yield item
