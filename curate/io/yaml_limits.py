"""YAML from users' files, read within a size and an alias budget.

PyYAML's safe loader refuses code but not size: a few lines of nested anchors and aliases
("billion laughs") stand for billions of nodes, which anything walking the document (the
recipe's checks, str() of a value) expands. Files are capped in bytes, aliases in number,
and the document in nodes as seen by a walk that counts every alias expansion.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from curate.errors import UserError

MAX_BYTES = 1 << 20
MAX_ALIASES = 100
MAX_NODES = 100_000


class _BudgetLoader(yaml.SafeLoader):
    aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (*name)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        # PyYAML keeps the last of two equal keys without a word: a user's file with one key
        # twice (two `ko:` rows, two `filter:` options) is a mistake to name, not to guess
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} appears twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, what: str) -> object:
    """The YAML document in `path`; one-line UserErrors for a missing, unreadable, oversized,
    non-UTF-8 or invalid file, and for one that expands past the node budget."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise UserError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise UserError(f"{what} {path} is larger than {MAX_BYTES // 1024} KiB; a {what} is a short YAML file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{what} {path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    try:
        loader = _BudgetLoader(text)
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', None) or error})") from None
    except RecursionError:
        raise UserError(f"{what} {path} is nested too deeply (a {what} is a few levels of keys and lists)") from None
    if _nodes(document, MAX_NODES + 1) > MAX_NODES:
        raise UserError(f"{what} {path} expands to more than {MAX_NODES:,} values (nested anchors?)")
    return document


def _nodes(value: object, budget: int) -> int:
    """How many values `value` holds, counting shared ones at every place they appear; stops
    counting at `budget`."""
    count, stack = 0, [value]
    while stack and count < budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count
