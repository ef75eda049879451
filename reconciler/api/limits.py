"""Query cost limit: a static upper bound of the objects an operation can return.

Each field that returns an object costs 1 times the number of times it can appear: inside a
connection the multiplier grows by its page size (``first``: the literal, the maximum page
size when it is a variable, the default when absent), inside a plain list by ``LIST_FACTOR``.
Scalars are free. The bound needs no variables, so it is a validation rule: an operation over
budget is refused before anything runs. Depth is limited separately (QueryDepthLimiter).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)

from reconciler.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MAX_COST = 10_000
LIST_FACTOR = 10


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class CostLimitRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        schema = self.context.schema
        root = schema.get_root_type(node.operation)
        if root is None:
            return
        fragments = {
            definition.name.value: definition
            for definition in self.context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        cost = self._cost(node.selection_set, root, 1, fragments, frozenset())
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"operation cost {cost} exceeds the limit of {MAX_COST}: "
                    "ask for smaller pages or fewer nested lists",
                    node,
                    extensions={"code": "COST_LIMIT"},
                )
            )

    def _cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        multiplier: int,
        fragments: dict[str, FragmentDefinitionNode],
        seen: frozenset[str],
    ) -> int:
        if selection_set is None or multiplier > MAX_COST * 100:
            return 0
        total = 0
        schema = self.context.schema
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields = (
                    parent.fields
                    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                    else {}
                )
                definition = fields.get(selection.name.value)
                if definition is None or selection.selection_set is None:
                    continue
                inner = multiplier * self._factor(selection, definition, parent)
                total += inner + self._cost(
                    selection.selection_set,
                    get_named_type(definition.type),
                    inner,
                    fragments,
                    seen,
                )
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = schema.get_type(selection.type_condition.name.value) or parent
                total += self._cost(selection.selection_set, target, multiplier, fragments, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = schema.get_type(fragment.type_condition.name.value) or parent
                total += self._cost(
                    fragment.selection_set, target, multiplier, fragments, seen | {name}
                )
        return total

    @staticmethod
    def _factor(node: FieldNode, definition: Any, parent: Any) -> int:
        if parent.name.endswith("Connection") and node.name.value in ("edges", "nodes"):
            return 1  # the connection's page size already counts them
        if "first" in definition.args:
            for argument in node.arguments or ():
                if argument.name.value == "first":
                    if isinstance(argument.value, IntValueNode):
                        return max(1, min(int(argument.value.value), MAX_PAGE_SIZE))
                    return MAX_PAGE_SIZE
            return DEFAULT_PAGE_SIZE
        return LIST_FACTOR if _is_list(definition.type) else 1
