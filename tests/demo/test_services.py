from demo.services import DemoAddresses, demo_banner, demo_services

ADDRESSES = DemoAddresses(port=8100, idp_port=9200, receiver_port=9300, embed_port=9400)


def test_the_demo_runs_site_worker_idp_receiver_and_host_page_on_the_given_ports(monkeypatch):
    monkeypatch.setenv("TASKS_BACKEND", "database")
    monkeypatch.setenv("DEVIDP_CALLBACK_KEY", "demo-callback-key")
    services = {service.name: service for service in demo_services(ADDRESSES, with_devidp=True)}

    assert list(services) == ["web", "worker", "relay", "idp", "webhooks", "embed"]
    assert services["web"].argv[-2:] == ["runserver", "127.0.0.1:8100"]
    assert services["web"].port == 8100
    assert services["worker"].argv[-3:] == ["db_worker", "--queue-name", "*"]
    assert services["worker"].port is None
    assert services["relay"].argv[-1] == "relay_webhooks"
    idp = services["idp"]
    assert (idp.argv[-1], idp.port) == ("127.0.0.1:9200", 9200)
    assert [command[2] for command in idp.before] == ["migrate", "devidp_seed"]
    # The demo integration's own callback URL (seed_demo gives it the same key from .env).
    assert idp.env == {
        "DEVIDP_REDIRECT_URIS": "http://127.0.0.1:8100/oauth/callback/demo-callback-key"
    }
    assert services["webhooks"].port == 9300
    assert "demo.webhook_receiver" in services["webhooks"].argv
    embed = services["embed"]
    assert embed.port == 9400
    assert "demo.embed_host" in embed.argv
    assert embed.argv[-4:] == [
        "--port",
        "9400",
        "--campaign-url",
        "http://127.0.0.1:8100/e/summer-contest/",
    ]


def test_without_the_development_idp_the_rest_still_runs():
    names = [service.name for service in demo_services(ADDRESSES, with_devidp=False)]

    assert names == ["web", "worker", "relay", "webhooks", "embed"]


def test_the_rq_backend_gets_its_own_worker(monkeypatch):
    monkeypatch.setenv("TASKS_BACKEND", "rq")

    [worker] = [s for s in demo_services(ADDRESSES, with_devidp=False) if s.name == "worker"]

    assert worker.argv[-3:] == ["rqworker", "default", "webhooks"]


def test_the_callback_follows_the_public_base_url(monkeypatch):
    monkeypatch.setenv("DEVIDP_CALLBACK_KEY", "demo-callback-key")
    addresses = DemoAddresses(port=8100, public_base_url="https://demo.example.test/")
    [idp] = [s for s in demo_services(addresses, with_devidp=True) if s.name == "idp"]

    url = "https://demo.example.test/oauth/callback/demo-callback-key"
    assert idp.env["DEVIDP_REDIRECT_URIS"] == url
    banner = demo_banner(addresses)
    assert "https://demo.example.test/admin/" in banner
    assert f"OAuth callback URL  {url}" in banner


def test_the_banner_lists_every_url_and_login():
    banner = demo_banner(ADDRESSES)

    for text in [
        "http://127.0.0.1:8100/c/summer-contest/",
        "http://127.0.0.1:8100/c/summer-contest/?lang=fr",
        "http://127.0.0.1:8100/admin/",
        "staff   / demo-password-123",
        "admin   / demo-password-123",
        "editor  / demo-password-123",
        "http://127.0.0.1:9300/",
        ".data/webhook-events.jsonl",
        "http://127.0.0.1:8100/oauth/callback",
        "http://localhost:9400/",
    ]:
        assert text in banner


def test_the_banner_and_the_seed_agree():
    from demo import services
    from demo.management.commands import seed_demo

    assert services.DEMO_CAMPAIGN_SLUG == seed_demo.DEMO_CAMPAIGN_SLUG
    assert services.STAFF_PASSWORD == seed_demo.DEMO_PASSWORD
    assert [name for name, _ in services.DEMO_LOGINS] == [name for name, _ in seed_demo.DEMO_USERS]
