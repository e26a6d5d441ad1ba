"""QuerySets compiled once per process, then run with new values: for the few per-request lookups
on the download path.

Why: Django builds and compiles every QuerySet from scratch. On the 2-core benchmark machine
that costs about 0.5 ms per query, about what a whole request to a trivial view costs, so the
two lookups of a `HEAD /resolve` (repo, ref) made it four times as expensive as `/healthz`
(bench/resolve_head_rps.py). A `PreparedQuery` still builds its QuerySet with the ORM, from the
very same expressions (the policy's visibility filter stays the one source of truth); it only
keeps the SQL that Django compiled, with the parameter slots of the arguments, and runs it
again with new values through the ordinary cursor (query logging and transactions unchanged).

How the slots are found: the QuerySet is built once with marker values (a string with NUL
bytes, or a large negative integer); each marker must show up among the compiled parameters
(once or more: one argument may feed several lookups) and nowhere in the SQL text. If a lookup
transforms its value (`iexact`, `contains`, ...) or the QuerySet is not a plain one
(select_related, values(), extra()), the query is not prepared and simply runs through the ORM
every time: slower, never wrong. Annotations are supported (their values are set on each object,
converted as the ORM converts them), so a lookup can fold small facts such as "has a release
plan" into its one row. `build` must depend on nothing but its arguments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

log = logging.getLogger(__name__)
_INT_MARKER_BASE = -(1 << 62)


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    sql: str
    slots: tuple[tuple[str, int | None] | None, ...]  # per parameter: (argument, list index) or None
    constants: tuple[Any, ...]  # per parameter: the compiled value where the slot is None
    attnames: tuple[str, ...]
    annotations: tuple[tuple[str, int], ...]  # (attribute, column) of each annotation
    converters: tuple[tuple[int, tuple, Any], ...]


def _marker(name: str, index: int | None, value: Any, counter: list[int]) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"prepared argument {name!r}: only str, int and lists of them are supported")
    if isinstance(value, str):
        # NUL never occurs in real values; % _ \ make any LIKE escaping visible (it would change
        # the marker, so the query is not prepared rather than run without the escaping).
        return f"\x00%_\\{name}:{index}\x00"
    counter[0] += 1
    return _INT_MARKER_BASE - counter[0]


def _markers(values: dict[str, Any]) -> tuple[dict[str, Any], dict[Any, tuple[str, int | None]]]:
    counter = [0]
    arguments: dict[str, Any] = {}
    where: dict[Any, tuple[str, int | None]] = {}
    for name, value in values.items():
        if isinstance(value, list | tuple):
            arguments[name] = [_marker(name, i, item, counter) for i, item in enumerate(value)]
            where.update({marker: (name, i) for i, marker in enumerate(arguments[name])})
        else:
            arguments[name] = _marker(name, None, value, counter)
            where[arguments[name]] = (name, None)
    return arguments, where


def _shape(values: dict[str, Any]) -> tuple:
    """What makes two calls compile differently: argument types and list lengths."""
    return tuple(
        (name, len(value), tuple(type(v) for v in value)) if isinstance(value, list | tuple) else (name, type(value))
        for name, value in sorted(values.items())
    )


class PreparedQuery:
    """`PreparedQuery(lambda namespace, name: Repo.objects.filter(...)[:1])(namespace=..., name=...)`
    returns the list of model instances the QuerySet would return."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._compiled: dict[tuple, _Compiled | None] = {}
        self._lock = threading.Lock()

    def __call__(self, **values: Any) -> list:
        alias = "default"
        key = (alias, connections[alias].vendor, _shape(values))
        if key in self._compiled:
            compiled = self._compiled[key]
        else:
            with self._lock:
                compiled = self._compiled[key] = self._compile(alias, values)
        if compiled is None:
            return list(self._build(**values))
        return self._run(alias, compiled, values)

    def _compile(self, alias: str, values: dict[str, Any]) -> _Compiled | None:
        try:
            return self._try_compile(alias, values)
        except (TypeError, EmptyResultSet) as exc:  # unsupported argument types, an empty IN list
            log.info("Not preparing a query: %s", exc)
            return None

    def _try_compile(self, alias: str, values: dict[str, Any]) -> _Compiled | None:
        arguments, where = _markers(values)
        queryset = self._build(**arguments)
        query = queryset.query
        if (
            queryset._iterable_class is not ModelIterable
            or query.select_related
            or query.extra
            or queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or queryset.db != alias
        ):
            log.warning("Not preparing %r: not a plain model QuerySet.", queryset.model)
            return None
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = tuple(where.get(param) if isinstance(param, str | int) else None for param in params)
        found = {slot for slot in slots if slot is not None}
        marker_text = [m for m in where if isinstance(m, str)] + [str(m) for m in where if isinstance(m, int)]
        if found != set(where.values()) or any(m in sql for m in marker_text):
            log.warning("Not preparing %r: the arguments do not map one-to-one onto SQL parameters.", queryset.model)
            return None
        select = compiler.select[: compiler.col_count]
        if compiler.klass_info is None:
            return None
        model_columns = list(compiler.klass_info["select_fields"])
        annotations = tuple(sorted(compiler.annotation_col_map.items(), key=lambda item: item[1]))
        if model_columns != list(range(len(model_columns))) or [i for _, i in annotations] != list(
            range(len(model_columns), len(select))
        ):
            return None  # columns not laid out as model fields then annotations
        fields = [column[0] for column in select]
        converters = compiler.get_converters(fields)
        return _Compiled(
            model=queryset.model,
            sql=sql,
            slots=slots,
            constants=tuple(None if slot is not None else param for slot, param in zip(slots, params, strict=True)),
            attnames=tuple(column.target.attname for column in fields[: len(model_columns)]),
            annotations=annotations,
            converters=tuple((pos, tuple(convs), expression) for pos, (convs, expression) in converters.items()),
        )

    @staticmethod
    def _run(alias: str, compiled: _Compiled, values: dict[str, Any]) -> list:
        params = [
            constant if slot is None else (values[slot[0]] if slot[1] is None else values[slot[0]][slot[1]])
            for slot, constant in zip(compiled.slots, compiled.constants, strict=True)
        ]
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        objects = []
        for row in rows:
            row = list(row)
            for pos, convs, expression in compiled.converters:
                for convert in convs:
                    row[pos] = convert(row[pos], expression, connection)
            instance = compiled.model.from_db(alias, compiled.attnames, row[: len(compiled.attnames)])
            for attribute, column in compiled.annotations:
                setattr(instance, attribute, row[column])
            objects.append(instance)
        return objects
