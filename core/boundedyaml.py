"""The one YAML loader of the project: safe types only, no aliases, and bounded work.

SECURITY: YAML aliases let a few hundred bytes name a structure of billions of nodes ("billion
laughs"): `yaml.safe_load` shares the nodes, so loading is quick, but anything that walks the
result (JSON encoding, storing it, rendering it) expands every reference. Here the text is first
read as a stream of parser events, which expands nothing; an alias, too many nodes or too deep a
nesting is refused there, before any node is composed. Only then is the text composed, by the
same C parser, so the result is never larger than the text it came from.
"""

from __future__ import annotations

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 256 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64


class YAMLRefused(ValueError):
    """The text may be valid YAML, but it is not loaded: it has aliases or exceeds a bound."""


class YAMLInvalid(ValueError):
    """The text is not YAML this loader can read (syntax, unknown tags, impossible values)."""


def load(text: str, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH):
    """The document in `text`, as `yaml.safe_load` gives it. Raises YAMLRefused past a bound or
    at the first alias, YAMLInvalid for anything else the parser or constructor rejects."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise YAMLRefused(f"the YAML is larger than {max_bytes} bytes")
    try:
        _check_events(text, max_nodes=max_nodes, max_depth=max_depth)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader; the name hides it)
    except yaml.YAMLError as exc:
        raise YAMLInvalid(str(exc)) from exc
    except (ValueError, OverflowError, RecursionError) as exc:
        # SafeConstructor lets Python's errors through: a 5,000-digit integer, month 13.
        if isinstance(exc, YAMLRefused):
            raise
        raise YAMLInvalid(f"a value cannot be read: {exc}") from exc


def _check_events(text: str, *, max_nodes: int, max_depth: int) -> None:
    nodes = depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise YAMLRefused(f"aliases (*{event.anchor}) are not allowed{_where(event)}")
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            nodes += 1
            if nodes > max_nodes:
                raise YAMLRefused(f"the YAML has more than {max_nodes} nodes")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise YAMLRefused(f"the YAML is nested deeper than {max_depth} levels{_where(event)}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _where(event) -> str:
    mark = event.start_mark
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
