"""YAML read exactly, for the price book: numbers become Decimals from their literal text
(`base_fee: 49.10` never passes through a float), a key given twice in one mapping is refused
(YAML would keep the last silently), and aliases are refused."""

from __future__ import annotations

from decimal import Decimal

import yaml


class ExactLoader(yaml.SafeLoader):
    """SafeLoader that reads floats as Decimal from their literal text, refuses a key given
    twice in one mapping (YAML would keep the last silently) and refuses aliases (`*name`):
    a price book has no use for them, and nested aliases build a document exponentially larger
    than its file (billion laughs)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a price book", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, list | dict):  # unhashable; refused by PyYAML itself
                    continue
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"key {key!r} is given twice (first {seen[key]})",
                        key_node.start_mark,
                    )
                seen[key] = f"at line {key_node.start_mark.line + 1}"
        return super().construct_mapping(node, deep=deep)


def _decimal_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal_constructor)
