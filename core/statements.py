"""Statements without the ORM's query compiler: the few a participant's login runs, one row
each, and the webhook drain's batches.

Compiling a query costs Django's ORM 100–200 µs of CPU; the same SQL sent through the
connection's cursor costs 15–25 µs (BENCHMARKS.md, "Fourth round"). A login's three requests
(login start, callback, prefilled form) run about ten single-row statements, and their
compilation was a quarter of the app's CPU per login. These helpers write that SQL once per
model and shape, from the model's `_meta`, and send it through public APIs only:

- values go through each field's own `pre_save()` and `get_db_prep_save()`, as `save()` does
  (time zones, JSON, encrypted fields, `auto_now_add`);
- a row read comes back as the instance `Model.from_db()` builds, from the driver's values and
  each field's own `from_db_value()` (JSON, decryption); on SQLite the time zone is set on
  times, as Django's SQLite backend does. A model with a field whose values need another of the
  backend's conversions (a slug, a UUID, a decimal) is read through `Manager.raw()`, which
  applies them all (and costs half the ORM's query);
- errors are the database's, wrapped by Django as for any query (`IntegrityError`,
  `OperationalError`), and the statements join the caller's transaction.

`rows_values` reads a few columns of several rows (the webhook endpoints a participation
notifies), where the ORM compiled a query of every column.

The webhook drain records its deliveries in batches (integrations/webhooks/): `rows_insert`,
`rows_update_each` and `rows_delete` write a batch's rows in one statement each, where the ORM's
compiler cost more per batch than the statements themselves (BENCHMARKS.md, "Seventh round").
Their SQL is kept per shape, row count included: callers send batches of a bounded size.

They send no signals, so they serve only models nothing listens to (tests/core/test_statements.py
checks that, and that each helper stores and reads what the ORM would). Everything else,
and anything with joins, stays with the ORM.
"""

from collections.abc import Sequence
from datetime import UTC
from functools import cache

from django.conf import settings
from django.db import NotSupportedError, connections, router
from django.db.models import Field, Model

_OPERATORS = {"": "= %s", "gt": "> %s", "isnull": "IS NULL", "in": "IN ({})"}


def row_insert(
    instance: Model, *, conflict: tuple[str, ...] = (), update: tuple[str, ...] = ()
) -> Model:
    """INSERT `instance` (every concrete field but an automatic primary key) and set its pk.

    `conflict` and `update` (field names): on a row that already has the same `conflict` values,
    update its `update` fields instead (`INSERT … ON CONFLICT … DO UPDATE`, PostgreSQL and
    SQLite); the pk set is then the existing row's.
    """
    model = type(instance)
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    fields, sql = _insert_sql(model, alias, conflict, update)
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    pk = model._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            setattr(instance, pk.attname, cursor.fetchone()[0])
        elif instance.pk is None:
            setattr(instance, pk.attname, cursor.lastrowid)
    instance._state.adding = False
    instance._state.db = alias
    return instance


def rows_update(model: type[Model], values: dict, **where) -> int:
    """UPDATE `model`'s rows matching `where` with `values` ({field name: value}); returns how
    many rows changed. `where`: `name=value`, `name__gt=value`, `name__isnull=True` or
    `name__in=[values]` (not empty)."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields, sql, where_fields = _update_sql(model, alias, tuple(values), _shape(where))
    params = [
        f.get_db_prep_save(value, connection)
        for f, value in zip(fields, values.values(), strict=True)
    ]
    params += _where_params(where_fields, where, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def row_get(model: type[Model], **where) -> Model | None:
    """The one row of `model` matching `where` (as in `rows_update`), or None. Meant for unique
    lookups: of several matches, the first the database returns."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    sql, where_fields = _select_sql(model, alias, _shape(where))
    params = _where_params(where_fields, where, connection)
    readers = _readers(model, alias)
    if readers is None:
        # A field this module does not read itself: Django's raw() converts it.
        return next(iter(model._default_manager.db_manager(alias).raw(sql, params)), None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    names, converters = readers
    return model.from_db(alias, names, _converted(row, converters, connection))


def row_exists(model: type[Model], **where) -> bool:
    """Does a row of `model` match `where` (as in `rows_update`)?"""
    alias = router.db_for_read(model)
    connection = connections[alias]
    sql, where_fields = _exists_sql(model, alias, _shape(where))
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(where_fields, where, connection))
        return cursor.fetchone() is not None


def rows_values(model: type[Model], names: tuple[str, ...], **where) -> list[tuple]:
    """The values of fields `names` (attribute names, as `values_list` takes them) of every row
    of `model` matching `where` (as in `rows_update`), in primary-key order, each converted as
    the ORM reads it (`values_list(*names)` with `order_by("pk")`). Only fields `row_get` reads
    itself (JSON, text, numbers, booleans, times, foreign keys); others raise ValueError."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    shaped = _values_sql(model, alias, names, _shape(where))
    if shaped is None:
        # A database whose values only the ORM's reads convert: Django's values_list does.
        rows = model._default_manager.db_manager(alias).filter(**where).order_by("pk")
        return list(rows.values_list(*names))
    sql, where_fields, converters = shaped
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(where_fields, where, connection))
        rows = cursor.fetchall()
    if not any(converters):
        return [tuple(row) for row in rows]
    return [tuple(_converted(row, converters, connection)) for row in rows]


def rows_insert(instances: Sequence[Model]) -> None:
    """INSERT every instance of `instances` (all of one model) in one statement (more if the
    database limits a statement's parameters), as `bulk_create` does; their primary keys are
    not read back."""
    if not instances:
        return
    model = type(instances[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields = _insert_fields(model)
    size = max(1, connection.ops.bulk_batch_size(fields, instances))
    for start in range(0, len(instances), size):
        batch = instances[start : start + size]
        params = [
            f.get_db_prep_save(f.pre_save(instance, True), connection)
            for instance in batch
            for f in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(_rows_insert_sql(model, alias, len(batch)), params)
        for instance in batch:
            instance._state.adding = False
            instance._state.db = alias


def rows_update_each(model: type[Model], values: dict, **where) -> int:
    """UPDATE each row whose primary key is a key of `values` with its own values ({pk: {field
    name: value}}, the same names for every row), among the rows that also match `where` (as in
    `rows_update`). A field given one value for every row is set to it; one whose values differ
    takes a `CASE` on the primary key. Returns how many rows changed."""
    if not values:
        return 0
    alias = router.db_for_write(model)
    connection = connections[alias]
    rows = list(values.values())
    names = tuple(rows[0])
    if any(tuple(row) != names for row in rows):
        raise ValueError("every row must give the same fields")
    varying = tuple(name for name in names if any(row[name] != rows[0][name] for row in rows))
    pks = list(values)
    fields, sql, where_fields = _update_each_sql(
        model, alias, names, varying, len(pks), _shape(where)
    )
    pk = model._meta.pk
    params = []
    for f in fields:
        if f.name in varying:
            for key, row in values.items():
                params += [
                    pk.get_db_prep_value(key, connection),
                    f.get_db_prep_save(row[f.name], connection),
                ]
        else:
            params.append(f.get_db_prep_save(rows[0][f.name], connection))
    params += [pk.get_db_prep_value(key, connection) for key in pks]
    params += _where_params(where_fields, where, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def rows_delete(model: type[Model], **where) -> int:
    """DELETE `model`'s rows matching `where` (as in `rows_update`); returns how many went.
    Nothing cascades: meant for rows no other row points to."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    sql, where_fields = _delete_sql(model, alias, _shape(where))
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(where_fields, where, connection))
        return cursor.rowcount


# ---------------------------------------------------------------------------- SQL, once per shape
def _insert_fields(model) -> list[Field]:
    """Every concrete field but an automatic primary key."""
    pk = model._meta.pk
    return [f for f in model._meta.concrete_fields if not (f is pk and pk.db_returning)]


@cache
def _insert_sql(model, alias, conflict, update) -> tuple[list[Field], str]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    pk = meta.pk
    fields = _insert_fields(model)
    sql = _rows_insert_sql(model, alias, 1)
    if conflict:
        targets = ", ".join(quote(meta.get_field(name).column) for name in conflict)
        changes = ", ".join(
            f"{quote(column)} = EXCLUDED.{quote(column)}"
            for column in (meta.get_field(name).column for name in update)
        )
        sql += f" ON CONFLICT ({targets}) DO UPDATE SET {changes}"
    if connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(pk.column)}"
    elif conflict:
        # Without RETURNING, the id of a row updated instead cannot be read (SQLite < 3.35).
        raise NotSupportedError("INSERT … ON CONFLICT needs RETURNING on this database")
    return fields, sql


@cache
def _rows_insert_sql(model, alias, count) -> str:
    """INSERT of `count` rows of every field `_insert_fields` gives (one row: `row_insert`'s)."""
    quote = connections[alias].ops.quote_name
    fields = _insert_fields(model)
    row = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 (quoted names)
        f"VALUES {', '.join([row] * count)}"
    )


@cache
def _update_each_sql(model, alias, names, varying, count, where) -> tuple[list[Field], str, list]:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    pk = quote(meta.pk.column)
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(
        f"{quote(f.column)} = CASE {pk}{' WHEN %s THEN %s' * count} END"
        if f.name in varying
        else f"{quote(f.column)} = %s"
        for f in fields
    )
    condition, where_fields = _where_sql(model, (("pk__in", count), *where), quote)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {condition}"  # noqa: S608 (quoted names)
    return fields, sql, where_fields[1:]


@cache
def _delete_sql(model, alias, where) -> tuple[str, list]:
    quote = connections[alias].ops.quote_name
    condition, where_fields = _where_sql(model, where, quote)
    return f"DELETE FROM {quote(model._meta.db_table)} WHERE {condition}", where_fields  # noqa: S608 (quoted names)


@cache
def _update_sql(model, alias, names, where) -> tuple[list[Field], str, list]:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    condition, where_fields = _where_sql(model, where, quote)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {condition}"  # noqa: S608 (quoted names)
    return fields, sql, where_fields


@cache
def _select_sql(model, alias, where) -> tuple[str, list]:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    columns = ", ".join(quote(f.column) for f in meta.concrete_fields)
    condition, where_fields = _where_sql(model, where, quote)
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {condition}"  # noqa: S608 (quoted names)
    return sql, where_fields


@cache
def _values_sql(model, alias, names, where) -> tuple[str, list, list] | None:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = []
    for name in names:
        field = by_attname.get(name)
        if field is None or not _readable(field):
            raise ValueError(f"{model.__name__}.{name}: not a field rows_values reads")
        fields.append(field)
    if not _plain_reads(connection):
        return None
    columns = ", ".join(quote(f.column) for f in fields)
    condition, where_fields = _where_sql(model, where, quote)
    sql = (
        f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {condition} "  # noqa: S608 (quoted names)
        f"ORDER BY {quote(meta.pk.column)}"
    )
    return sql, where_fields, [_reader(f, connection.vendor) for f in fields]


@cache
def _exists_sql(model, alias, where) -> tuple[str, list]:
    quote = connections[alias].ops.quote_name
    condition, where_fields = _where_sql(model, where, quote)
    table = quote(model._meta.db_table)
    sql = f"SELECT 1 FROM {table} WHERE {condition} LIMIT 1"  # noqa: S608 (quoted names)
    return sql, where_fields


# The fields whose values the drivers return as Python wants them, but for the conversions
# `_reader` adds (SQLite declares booleans and times with the types its driver converts, Django
# makes psycopg return JSON as text, as for the ORM's reads).
_READABLE = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "ForeignKey",
        "IntegerField",
        "JSONField",
        "OneToOneField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


@cache
def _readers(model, alias) -> tuple[list[str], list] | None:
    """(attribute names, a converter or None per column) for `row_get`, or None when a field
    needs a conversion of the database's that only the ORM's reads apply."""
    connection = connections[alias]
    if not _plain_reads(connection):
        return None
    fields = model._meta.concrete_fields
    if not all(_readable(f) for f in fields):
        return None
    return [f.attname for f in fields], [_reader(f, connection.vendor) for f in fields]


def _readable(field: Field) -> bool:
    kind = field.get_internal_type()
    return kind in _READABLE and not (kind == "DateTimeField" and hasattr(field, "from_db_value"))


def _plain_reads(connection) -> bool:
    """Does the database return values that `_reader`'s conversions make the ORM's? (SQLite and
    PostgreSQL, without a database time zone of their own.)"""
    return connection.vendor in ("sqlite", "postgresql") and not connection.settings_dict.get(
        "TIME_ZONE"
    )


def _converted(row, converters, connection) -> list:
    """A row as the driver returned it, each value through its column's `_reader` (if any)."""
    return [
        value if convert is None or value is None else convert(value, connection)
        for convert, value in zip(converters, row, strict=True)
    ]


def _reader(field: Field, vendor: str):
    """What turns the driver's value into the field's, as the ORM's read does: the field's own
    `from_db_value` (JSON, decryption), and on SQLite the UTC time zone on times, which the
    database stores without it."""
    aware = vendor == "sqlite" and settings.USE_TZ and field.get_internal_type() == "DateTimeField"
    if aware:
        return lambda value, connection: value.replace(tzinfo=UTC)
    if hasattr(field, "from_db_value"):
        return lambda value, connection: field.from_db_value(value, None, connection)
    return None


def _shape(where: dict) -> tuple[tuple[str, int], ...]:
    """`where`'s keys, each with how many values its `__in` list has (0 for other lookups): what
    its SQL depends on."""
    shape = []
    for key, value in where.items():
        count = 0
        if key.endswith("__in"):
            count = len(value)
            if not count:
                raise ValueError(f"{key}: an empty list matches no row; do not send the statement")
        shape.append((key, count))
    return tuple(shape)


def _where_sql(model, where, quote) -> tuple[str, list]:
    """`where`'s keys (a `_shape`) as SQL, and (field, operator) per key, in order."""
    meta = model._meta
    parts, where_fields = [], []
    for key, count in where:
        name, _, operator = key.partition("__")
        if operator not in _OPERATORS:
            raise ValueError(f"unsupported lookup: {key}")
        field = meta.pk if name == "pk" else meta.get_field(name)
        parts.append(
            f"{quote(field.column)} {_OPERATORS[operator].format(', '.join(['%s'] * count))}"
        )
        where_fields.append((field, operator))
    return " AND ".join(parts), where_fields


def _where_params(where_fields, where: dict, connection) -> list:
    params = []
    for (field, operator), value in zip(where_fields, where.values(), strict=True):
        if operator == "isnull":
            if value is not True:
                raise ValueError("only __isnull=True is supported")
            continue
        if operator == "in":
            params += [field.get_db_prep_value(one, connection, prepared=False) for one in value]
            continue
        params.append(field.get_db_prep_value(value, connection, prepared=False))
    return params
