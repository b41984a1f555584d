"""A bare WSGI app for bench/floor_bench.py: gunicorn's own cost per request, without Django."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
