"""A customer's own page that embeds a campaign, served on a site of its own.

    python -m demo.embed_host --port 9200 --campaign-url http://127.0.0.1:8000/e/summer-contest/

`make run` starts it next to the site: the browser reaches it as http://localhost:9200, another
*site* than http://127.0.0.1:8000, so the campaign runs in a third-party frame exactly as on a
customer's site (its cookies would be third-party there). The page pastes the code the
campaign's admin page gives (campaigns/embed_code.py), script included. The browser tests serve
their host pages with `host_running`.
"""

import argparse
import contextlib
import html
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from campaigns.embed_code import embed_code

DEMO_TITLE = "Summer contest"


def host_page(*, snippet: str, heading: str = "Demo Customer's shop") -> str:
    """A plain page of the customer's, with the embed code pasted in the middle."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(heading)}</title>\n"
        "<style>body { font-family: Georgia, serif; max-width: 46rem; margin: 0 auto; "
        "padding: 1rem; background: #fbf4e9; color: #2b2118 } "
        "header, footer { padding: .5rem 0 } footer { color: #6b5a48 }</style>\n"
        "</head>\n<body>\n"
        f"<header><h1>{html.escape(heading)}</h1>"
        "<p>This page is the customer's own site. The campaign below is embedded with the "
        "code its admin page gives.</p></header>\n"
        f"{snippet}\n"
        "<footer>© Demo Customer</footer>\n</body>\n</html>\n"
    )


class _Handler(BaseHTTPRequestHandler):
    server: "EmbedHost"

    def do_GET(self):
        page = self.server.pages.get(self.path.split("?", 1)[0])
        if page is None:
            self.send_error(404)
            return
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        return


class EmbedHost(ThreadingHTTPServer):
    """Serves `pages` ({path: HTML}) on 127.0.0.1; the browser calls it `url`."""

    daemon_threads = True

    def __init__(self, port: int, pages: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.pages = pages

    @property
    def url(self) -> str:
        # localhost, not 127.0.0.1: another site than the product's, for the browser.
        return f"http://localhost:{self.server_address[1]}"


@contextlib.contextmanager
def host_running(pages: dict[str, str] | None = None, *, port: int = 0) -> Iterator[EmbedHost]:
    """An EmbedHost in a thread for the length of the block (port 0: a free one)."""
    server = EmbedHost(port, pages if pages is not None else {})
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def demo_pages(campaign_url: str) -> dict[str, str]:
    snippet = embed_code(src=campaign_url, title=DEMO_TITLE, frame_id="campaign-summer-contest")
    return {"/": host_page(snippet=snippet)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.embed_host", description=__doc__)
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--campaign-url", required=True, help="The campaign's /e/<slug>/ URL.")
    options = parser.parse_args(argv)
    server = EmbedHost(options.port, demo_pages(options.campaign_url))
    print(f"Customer page embedding {options.campaign_url} on {server.url}/", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
