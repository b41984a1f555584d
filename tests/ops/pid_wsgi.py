"""A WSGI app that answers with the id of the process serving it: which gunicorn worker
took a request (tests/ops/test_gunicorn.py)."""

import os


def application(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
