"""A small, closed condition language shared by the questionnaire and the rules.

Conditions are plain dicts (TOML inline tables), never code:

- ``{all = [c, ...]}``, ``{any = [c, ...]}``, ``{not = c}`` combine conditions;
- ``{q = "id", op = "<operator>", value = ...}`` tests one fact (an answer or a
  derived value).

A comparison on an absent fact is ``False``; say ``not`` explicitly to negate.
That keeps a skipped or hidden question from ever counting as a "yes".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Condition = Mapping[str, Any]


def _as_set(value: Any) -> set[Any]:
    if isinstance(value, list | tuple | set | frozenset):
        return set(value)
    return {value}


def _has(fact: Any, value: Any) -> bool:
    return isinstance(fact, list | tuple | set | frozenset) and value in fact


def _has_any(fact: Any, value: Any) -> bool:
    return bool(_as_set(fact) & _as_set(value))


def _number(fact: Any) -> bool:
    return isinstance(fact, int | float) and not isinstance(fact, bool)


#: The closed set of operators: name -> test(fact, value). ``fact`` is never None here.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda fact, value: fact == value,
    "ne": lambda fact, value: fact != value,
    "in": lambda fact, value: fact in value,
    "not_in": lambda fact, value: fact not in value,
    "has": _has,
    "has_any": _has_any,
    "ge": lambda fact, value: _number(fact) and fact >= value,
    "gt": lambda fact, value: _number(fact) and fact > value,
    "le": lambda fact, value: _number(fact) and fact <= value,
    "lt": lambda fact, value: _number(fact) and fact < value,
    "true": lambda fact, value: fact is True,
    "answered": lambda fact, value: True,
}

#: Operators whose ``value`` must be a list.
LIST_OPERATORS = frozenset({"in", "not_in", "has_any"})
#: Operators that take no ``value``.
UNARY_OPERATORS = frozenset({"true", "answered"})


def evaluate(cond: Condition, facts: Mapping[str, Any]) -> bool:
    """Evaluate ``cond`` against ``facts``.

    :param cond: a condition in the grammar of this module.
    :param facts: question ids and derived names mapped to their values.
    :return: whether the condition holds; a test of an absent fact is ``False``.
    """
    if "all" in cond:
        return all(evaluate(c, facts) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, facts) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], facts)
    fact = facts.get(cond["q"])
    if fact is None:
        return False
    return bool(OPERATORS[cond["op"]](fact, cond.get("value")))


def facts_used(cond: Condition) -> set[str]:
    """Return every fact name a condition reads."""
    for key in ("all", "any"):
        if key in cond:
            return set().union(*(facts_used(c) for c in cond[key]))
    if "not" in cond:
        return facts_used(cond["not"])
    return {cond["q"]}


def leaves(cond: Condition) -> list[Condition]:
    """Return the single-fact tests inside a condition, in order."""
    for key in ("all", "any"):
        if key in cond:
            return [leaf for c in cond[key] for leaf in leaves(c)]
    if "not" in cond:
        return leaves(cond["not"])
    return [cond]


def check(cond: Any) -> list[str]:
    """Return the structural problems of a condition (empty when well formed)."""
    if not isinstance(cond, Mapping):
        return [f"a condition must be a table, not {cond!r}"]
    keys = set(cond)
    for key in ("all", "any"):
        if key in keys:
            if keys != {key}:
                return [f"'{key}' must stand alone in its table"]
            items = cond[key]
            if not isinstance(items, list) or not items:
                return [f"'{key}' needs a non-empty list of conditions"]
            return [problem for c in items for problem in check(c)]
    if "not" in keys:
        if keys != {"not"}:
            return ["'not' must stand alone in its table"]
        return check(cond["not"])
    if not isinstance(cond.get("q"), str):
        return [f"a test needs a fact name in 'q': {dict(cond)!r}"]
    op = cond.get("op")
    if op not in OPERATORS:
        return [f"unknown operator {op!r} on '{cond['q']}'"]
    allowed = {"q", "op"} if op in UNARY_OPERATORS else {"q", "op", "value"}
    if keys - allowed:
        return [f"unexpected keys {sorted(keys - allowed)} on '{cond['q']}'"]
    if op not in UNARY_OPERATORS and "value" not in cond:
        return [f"operator '{op}' on '{cond['q']}' needs a value"]
    if op in LIST_OPERATORS and not isinstance(cond["value"], list):
        return [f"operator '{op}' on '{cond['q']}' needs a list value"]
    return []
