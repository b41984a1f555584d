"""Django's database session stores, with two round trips less, through Django's public API.

- **A new session without a lookup.** Before every new session Django asks the store's
  `exists()` whether the random key it drew is taken (a cache read and a query in `cached_db`),
  then inserts it with `save(must_create=True)`, whose unique-key error (`CreateError`) makes
  `create()` draw another key. The lookup guards nothing the insert does not; the participant's
  callback, which creates the session, paid for it on every login. Here `exists()` answers
  without asking: a 32-character random key is never worth a round trip, and the insert still
  refuses a taken one.
- **A save in one statement.** Django wraps the session's one INSERT or UPDATE in
  `transaction.atomic()`: in autocommit that is BEGIN, the statement, COMMIT, three round trips
  for what a single statement does atomically by itself (on SQLite, BEGIN IMMEDIATE also takes
  the write lock before it is needed). Sessions are saved by the middleware after the view, in
  autocommit; there `save()` writes the row with one INSERT or UPDATE alone. Inside a
  transaction (a test, a view that saves within `atomic()`) Django's own save runs, with its
  savepoint.
- **Read and written without the query compiler.** The session's read, insert and update are
  single-row statements that every participant's page sends: they go through
  `core/statements.py` (the same SQL, for a tenth of the ORM's CPU).

`db.SessionStore` is the store; `cached_db.SessionStore` puts Django's cache-fronted store above
it (and keeps working while the cache is down).
"""
