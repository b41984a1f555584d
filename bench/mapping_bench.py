"""Mapping benchmark: table validation + import, and mapping_apply per login.

    DJANGO_SETTINGS_MODULE=config.settings python bench/mapping_bench.py

Imports into a throw-away in-memory SQLite database (never the project's own).
"""

import csv
import io
import json
import os
import statistics
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ["DATABASE_URL"] = "sqlite://:memory:"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import Account  # noqa: E402
from integrations.mapping import Profile, mapping_apply, rule_compile  # noqa: E402
from integrations.mapping.store import mapping_table_import  # noqa: E402
from integrations.models import OAuthIntegration  # noqa: E402

TABLE_ROWS = 1_000
APPLY_CALLS = 5_000

TWENTY_RULES = [
    ("firstname", "given_name", "strip|title", "", True),
    ("lastname", "family_name", "strip", "", True),
    ("email", "id_token.email", "strip|lower", "userinfo.email", True),
    ("birthdate", "userinfo.birthdate", "date:%d/%m/%Y", "", False),
    ("phone", "phone_number", "phone", "", False),
    ("street", "address.street_address", "strip", "", False),
    ("zipcode", "address.postal_code", "strip", "", False),
    ("city", "address.locality", "strip", "", False),
    ("country", "address.country", "map:Belgique=BE;België=BE|country", "", False),
    ("language", "locale", "lower|split:-:0", "", False),
    ("loyalty_id", "access_token.loyalty_id", "strip|upper", "userinfo.loyalty_id", False),
    ("optin_newsletter", "userinfo.optin_newsletter", "bool", "", False),
    ("optin_partners", "userinfo.optin_partners", "default:false|bool", "", False),
    ("gender", "gender", "map:male=m;female=f", "", False),
    ("username", "preferred_username", "lower", "", False),
    ("region", "address.region", "strip", "", False),
    ("stores", "favourite_stores", "join:, ", "", False),
    ("top_role", "access_token.realm_access.roles[3]", "", "", False),
    ("session", "id_token.sid", "", "", False),
    ("scope", "token.scope", "split: :0", "", False),
]


def table_bytes(rows: int) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["field", "source", "transform", "fallback", "required", "notes"])
    for index in range(rows):
        writer.writerow(
            [f"custom_{index:05d}", f'userinfo["claim/{index}"].value', "strip|lower", "", "no", ""]
        )
    return buffer.getvalue().encode()


def bench_import() -> list[float]:
    call_command("migrate", verbosity=0)
    account = Account.objects.create(name="Bench", slug="bench", sso_oauth_enabled=True)
    integration = OAuthIntegration.objects.create(
        account=account,
        display_name="Bench",
        client_id="bench",
        client_secret="bench",
        authorization_endpoint="https://idp.example.com/authorize",
        token_endpoint="https://idp.example.com/token",
    )
    timings = []
    for run in range(5):
        data = table_bytes(TABLE_ROWS)
        # A different table each run, so that every run really validates and saves.
        data = data.replace(b"strip|lower", b"strip|lower" if run % 2 else b"strip|upper")
        started = time.perf_counter()
        outcome = mapping_table_import(
            integration=integration, user=None, filename="bench.csv", data=data
        )
        timings.append((time.perf_counter() - started) * 1000)
        assert outcome.status == "saved", outcome.message
        assert integration.mapping_rules.count() == TABLE_ROWS
    return timings


def _apply_micros(profile: Profile, rules: list) -> float:
    for _ in range(1_000):  # warm-up: country index, phone metadata, caches
        mapping_apply(profile=profile, rules=rules)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(APPLY_CALLS):
            mapping_apply(profile=profile, rules=rules)
        runs.append((time.perf_counter() - started) / APPLY_CALLS * 1_000_000)
    return min(runs)  # the least disturbed run: other processes only ever add time


def bench_apply() -> tuple[float, float, int, int]:
    fixture = json.loads((ROOT / "tests/fixtures/idp-profiles/keycloak.json").read_text())
    profile = Profile.from_json(fixture)
    rules = [
        rule_compile(target=t, source=s, transform=x, fallback=f, required=r)
        for t, s, x, f, r in TWENTY_RULES
    ]
    result = mapping_apply(profile=profile, rules=rules)
    without_phone = [rule for rule in rules if rule.target != "phone"]
    return (
        _apply_micros(profile, rules),
        _apply_micros(profile, without_phone),
        len(result.values),
        len(result.problems),
    )


def machine_speed() -> float:
    """Nanoseconds per dict.get, to compare figures taken on different or busy machines."""
    runs = timeit.repeat("d.get('a')", setup="d = {'a': 1}", number=1_000_000, repeat=5)
    return min(runs) * 1000


def main() -> None:
    print(
        f"machine: {machine_speed():.0f} ns per dict.get, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    timings = bench_import()
    print(
        f"validate + import a {TABLE_ROWS:,}-row table: best {min(timings):.0f} ms, median "
        f"{statistics.median(timings):.0f} ms (5 runs, SQLite in memory)"
    )
    per_call, without_phone, values, problems = bench_apply()
    print(
        f"mapping_apply, {len(TWENTY_RULES)} rules on the Keycloak fixture: {per_call:.0f} µs per "
        f"call ({values} values, {problems} problems; best of 5 × {APPLY_CALLS:,} calls)"
    )
    print(
        f"  of which the phone rule: {per_call - without_phone:.0f} µs; "
        f"the other {len(TWENTY_RULES) - 1} rules: {without_phone:.0f} µs"
    )


if __name__ == "__main__":
    main()
