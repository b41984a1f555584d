"""The processes of the local demo (`make run`) and the block of URLs and logins it prints."""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from demo.supervisor import Service

BASE_DIR = Path(__file__).resolve().parent.parent
DEVIDP_MANAGE_PY = BASE_DIR / "devidp" / "manage.py"
WEBHOOK_LOG = Path(".data") / "webhook-events.jsonl"

# Kept in step with demo/management/commands/seed_demo.py.
DEMO_CAMPAIGN_SLUG = "summer-contest"
STAFF_PASSWORD = "demo-password-123"
DEMO_LOGINS = [
    ("staff", "platform staff: every account, entitlements, mapping uploads"),
    ("admin", "Administrator of Demo Customer: integration, webhooks, SSO activity"),
    ("editor", "Editor of Demo Customer: campaigns and statistics"),
]


@dataclass(frozen=True)
class DemoAddresses:
    host: str = "127.0.0.1"
    port: int = 8000
    idp_port: int = 9000
    receiver_port: int = 9100
    embed_port: int = 9200
    public_base_url: str = ""

    @property
    def site(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def idp(self) -> str:
        return f"http://127.0.0.1:{self.idp_port}"

    @property
    def receiver(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}/"

    @property
    def embed_host(self) -> str:
        # localhost, not 127.0.0.1: for the browser another site than the campaign's, as a
        # customer's site is. seed_demo lets it frame the demo account's campaigns.
        return f"http://localhost:{self.embed_port}"

    @property
    def embedded_campaign(self) -> str:
        return f"{self.site}/e/{DEMO_CAMPAIGN_SLUG}/"


def devidp_available() -> bool:
    """The development IdP is built on its own branch; start it once it is there."""
    return DEVIDP_MANAGE_PY.exists()


def demo_services(
    addresses: DemoAddresses, *, python: str = sys.executable, with_devidp: bool | None = None
) -> list[Service]:
    """Web server, task worker, webhook relay, development IdP (when present), webhook receiver
    and a customer's page embedding the demo campaign."""
    if with_devidp is None:
        with_devidp = devidp_available()
    manage = [python, str(BASE_DIR / "manage.py")]
    services = [
        Service(
            "web",
            [*manage, "runserver", f"{addresses.host}:{addresses.port}"],
            port=addresses.port,
            cwd=BASE_DIR,
        ),
        Service("worker", _worker_argv(manage), cwd=BASE_DIR),
        # Sends outbox deliveries whose task was lost (a worker or the queue was down).
        Service("relay", [*manage, "relay_webhooks"], cwd=BASE_DIR),
    ]
    if with_devidp:
        idp_manage = [python, str(DEVIDP_MANAGE_PY)]
        services.append(
            Service(
                "idp",
                [*idp_manage, "runserver", "--skip-checks", f"127.0.0.1:{addresses.idp_port}"],
                port=addresses.idp_port,
                # Its own database under devidp/.data: migrate, then register our client and
                # the demo participants (both idempotent). The client id and secret come from
                # DEVIDP_CLIENT_ID / DEVIDP_CLIENT_SECRET in the environment (.env), which the
                # product's integration uses too.
                before=[
                    [*idp_manage, "migrate", "--noinput", "--verbosity", "0"],
                    [*idp_manage, "devidp_seed", "--base-url", addresses.idp],
                ],
                env={"DEVIDP_REDIRECT_URIS": demo_callback_url(addresses.site)},
                cwd=BASE_DIR,
            )
        )
    services.append(
        Service(
            "webhooks",
            [
                python,
                "-m",
                "demo.webhook_receiver",
                "--port",
                str(addresses.receiver_port),
                "--log-file",
                str(WEBHOOK_LOG),
            ],
            port=addresses.receiver_port,
            cwd=BASE_DIR,
        )
    )
    services.append(
        Service(
            "embed",
            [
                python,
                "-m",
                "demo.embed_host",
                "--port",
                str(addresses.embed_port),
                "--campaign-url",
                addresses.embedded_campaign,
            ],
            port=addresses.embed_port,
            cwd=BASE_DIR,
        )
    )
    return services


def demo_callback_url(site: str) -> str:
    """The demo integration's own redirect URI (seed_demo gives it DEVIDP_CALLBACK_KEY)."""
    return f"{site}/oauth/callback/{os.environ.get('DEVIDP_CALLBACK_KEY', '')}"


def _worker_argv(manage: list[str]) -> list[str]:
    if os.environ.get("TASKS_BACKEND", "database") == "rq":
        return [*manage, "rqworker", "default", "webhooks"]
    return [*manage, "db_worker", "--queue-name", "*"]


def demo_banner(addresses: DemoAddresses) -> str:
    site = addresses.site
    campaign = f"{site}/c/{DEMO_CAMPAIGN_SLUG}/"
    rule = "=" * 78
    lines = [
        rule,
        "Campaign SSO demo is running. Ctrl-C stops everything; `make run` again keeps the data.",
        "",
        f"  Campaign page       {campaign}",
        f"  … in French         {campaign}?lang=fr",
        f"  … embedded          {addresses.embed_host}/   (a customer's page on another site)",
        f"  Admin               {site}/admin/",
    ]
    lines += [f"      {username:<7} / {STAFF_PASSWORD}   {what}" for username, what in DEMO_LOGINS]
    if devidp_available():
        lines += [
            f"  Development IdP     {addresses.idp}/",
            f"      participants: {_idp_participants()}",
        ]
    else:
        lines.append("  Development IdP     not in this checkout yet (devidp/manage.py missing)")
    lines += [
        f"  Webhook receiver    {addresses.receiver}   (events also in {WEBHOOK_LOG})",
        f"  OAuth callback URL  {demo_callback_url(site)}",
        rule,
    ]
    return "\n".join(lines)


def _idp_participants() -> str:
    try:
        from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD
    except ImportError:
        return "see the IdP's login page"
    return f"{', '.join(DEMO_PARTICIPANTS)} / {DEMO_PASSWORD}"
