from tests.devidp_server import devidp  # noqa: F401  (the session-scoped fixture)
