"""Queries compiled once: peewee writes the SQL the first time, later calls only bind values.

Peewee builds SQL from its expression tree on every execution. On the hot paths (the bearer
token check, "my reports", submitting a report) that took longer than the database work
itself, so those queries are declared once as :class:`Prepared`::

    SESSION = Prepared(lambda: AuthSession.select(AuthSession.expires_at)
                       .where(AuthSession.id == Param("sid")))
    row = SESSION.one(sid="…")

The builder runs once per SQL dialect. :class:`Param` marks where a value goes (with the
field whose ``db_value`` converts it); constants the query holds (``.first()``'s limit,
``active == True``) stay as they were compiled. Selected fields come back converted by
their ``python_value``, so rows read the same as peewee's own.

It is a cache of peewee's output, not a second query language: every query is still
written with the models, and the SQL is exactly what peewee would have sent.

On PostgreSQL the statement is also prepared on the server (``PREPARE``), once per
connection, and later calls send ``EXECUTE name(…)``. PostgreSQL plans every plain statement
afresh, and for these short queries planning took longer than running them. Prepared
statements live as long as their connection (pooled ones live long) and survive rollbacks;
a connection the pool replaces prepares again on first use. They need a session of their
own: a pooler in transaction mode (PgBouncer's default) in front of PostgreSQL would break
them, so connect Tongxin directly or through a session-mode pooler.
"""
from __future__ import annotations

import itertools
import re
import threading
import weakref
from collections import namedtuple
from typing import Any
from typing import Callable

from peewee import SQL
from peewee import Alias
from peewee import AutoField
from peewee import CharField
from peewee import FloatField
from peewee import ForeignKeyField
from peewee import IntegerField
from peewee import TextField
from peewee import Field
from peewee import Insert
from peewee import Node
from peewee import PostgresqlDatabase

from miniapp_api.db import database

_names = itertools.count(1)
# The statements each PostgreSQL connection has prepared (names), forgotten with the connection.
_server_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_server_prepared_lock = threading.Lock()


class Param(SQL):
    """A named value slot in a prepared query; ``field`` converts the value on the way in."""

    def __init__(self, name: str, field: Field | None = None):
        super().__init__(f"\x00{name}\x00")
        self.name = name
        self.field = field


class _Compiled:
    __slots__ = ("sql", "slots", "converters", "row", "server")

    def __init__(self, sql: str, slots: list, converters: list, row, server=None):
        self.sql = sql
        self.slots = slots            # ("param", name, field) or ("const", value)
        self.converters = converters  # (column index, python_value) of the columns that need one
        self.row = row                # a namedtuple class of the selected names, or None
        self.server = server          # PostgreSQL: (name, PREPARE statement, EXECUTE statement)


def _server_statement(sql: str, placeholder: str, count: int) -> tuple[str, str, str]:
    """``PREPARE``/``EXECUTE`` statements for ``sql`` with ``count`` driver placeholders."""
    name = f"tongxin_{next(_names)}"
    numbers = iter(range(1, count + 1))
    # Every placeholder is peewee's (values are never inlined), and the driver unescapes
    # "%%" in both statements alike, as it would have in ``sql``.
    body = re.sub(re.escape(placeholder), lambda _: f"${next(numbers)}", sql)
    execute = f"EXECUTE {name}" + (f"({', '.join([placeholder] * count)})" if count else "")
    return name, f"PREPARE {name} AS {body}", execute


def _params_in(node, found: dict) -> None:
    """Collect every :class:`Param` reachable from a query (to know each one's field)."""
    stack, seen = [node], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Param):
            found[item.name] = item
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Node) and not isinstance(item, Field):
            stack.extend(vars(item).values())


# Columns both drivers already return as the right Python type: no conversion needed.
_PLAIN = (CharField, TextField, IntegerField, FloatField, AutoField, ForeignKeyField)


def _column(node) -> tuple[str | None, Callable | None]:
    """The result name and converter of one selected node."""
    name = None
    if isinstance(node, Alias):
        name = node._alias
        node = node.node
    if isinstance(node, Field):
        plain = isinstance(node, _PLAIN) and type(node).python_value is Field.python_value
        if isinstance(node, ForeignKeyField):
            plain = isinstance(node.rel_field, _PLAIN) and type(node.rel_field).python_value is Field.python_value
        return name or node.name, None if plain else node.python_value
    return name, None


class Prepared:
    """A query built by ``build()`` and compiled once per database dialect.

    ``build`` must return a peewee query whose varying values are :class:`Param` slots.
    """

    def __init__(self, build: Callable[[], Any]):
        self._build = build
        self._compiled: dict[type, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self) -> _Compiled:
        db = database.obj
        key = type(db)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        with self._lock:
            query = self._build()
            params: dict[str, Param] = {}
            _params_in(query, params)
            if isinstance(query, Insert):
                _check_insert(query)
            sql, consts = query.sql()
            placeholder = db.param
            slots, consts = [], list(consts)
            pattern = re.compile("\x00(\\w+)\x00|" + re.escape(placeholder))

            def mark(match):
                if match.group(1) is not None:
                    p = params[match.group(1)]
                    slots.append(("param", p.name, p.field))
                else:
                    slots.append(("const", consts.pop(0)))
                return placeholder

            sql = pattern.sub(mark, sql)
            returning = getattr(query, "_returning", None) or ()
            columns = [_column(node) for node in returning]
            converters = [(i, conv) for i, (_, conv) in enumerate(columns) if conv is not None]
            names = [name for name, _ in columns]
            row = namedtuple("Row", names) if names and all(names) and len(set(names)) == len(names) else None
            server = _server_statement(sql, placeholder, len(slots)) if isinstance(db, PostgresqlDatabase) else None
            compiled = _Compiled(sql, slots, converters, row, server)
            self._compiled[key] = compiled
        return compiled

    def execute(self, **values):
        """Run the query with ``values`` for its parameters; returns the DB-API cursor."""
        compiled = self._compile()
        args = []
        for slot in compiled.slots:
            if slot[0] == "const":
                args.append(slot[1])
            else:
                value = values[slot[1]]
                args.append(slot[2].db_value(value) if slot[2] is not None else value)
        if compiled.server is None:
            return database.execute_sql(compiled.sql, args)
        name, prepare, execute = compiled.server
        conn = database.connection()
        if name not in _server_prepared.get(conn, ()):
            database.execute_sql(prepare)
            with _server_prepared_lock:
                _server_prepared.setdefault(conn, set()).add(name)
        return database.execute_sql(execute, args)

    def _convert(self, compiled: _Compiled, raw) -> tuple:
        if compiled.converters:
            raw = list(raw)
            for i, conv in compiled.converters:
                if raw[i] is not None:
                    raw[i] = conv(raw[i])
        return compiled.row(*raw) if compiled.row else tuple(raw)

    def rows(self, **values) -> list:
        """All rows, each a named tuple of the selected columns (converted)."""
        cursor = self.execute(**values)
        compiled = self._compiled[type(database.obj)]
        return [self._convert(compiled, raw) for raw in cursor.fetchall()]

    def one(self, **values):
        """The first row, or None."""
        cursor = self.execute(**values)
        raw = cursor.fetchone()
        return None if raw is None else self._convert(self._compiled[type(database.obj)], raw)

    def scalar(self, **values):
        """The first column of the first row (converted), or None."""
        row = self.one(**values)
        return None if row is None else row[0]


def loaded(model, values: dict):
    """A ``model`` instance holding ``values`` as if peewee had read it: nothing dirty, so a
    later ``save()`` writes only what the caller changes."""
    instance = model(**values)
    instance._dirty.clear()
    return instance


def _check_insert(query: Insert) -> None:
    """An insert compiled once must not freeze a callable default (``utcnow``) into its SQL."""
    model = query.model
    source = query._insert
    # Values given by name, or (``insert_from``) the columns a query fills: never iterate that
    # query, which would run it.
    given = ({getattr(k, "name", k) for k in source} if isinstance(source, dict)
             else {getattr(c, "name", c) for c in (query._columns or [])})
    frozen = [f.name for f in model._meta.sorted_fields
              if callable(f.default) and f.name not in given and not f.primary_key]
    if frozen:
        raise RuntimeError(f"prepared insert into {model.__name__} must set {', '.join(frozen)}")
