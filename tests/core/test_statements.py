"""core/statements.py stores and reads what the ORM would, for the models the login serves
through it (run on SQLite and PostgreSQL, as the whole suite)."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from core import statements
from core.statements import (
    row_exists,
    row_get,
    row_insert,
    rows_delete,
    rows_insert,
    rows_update,
    rows_update_each,
    rows_values,
)
from integrations.models import SignInAlert, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.webhooks.signing import message_id_generate
from participants.models import LoginAttempt, Participant, Participation, RememberedLogin
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    OAuthIntegrationFactory,
    ParticipantFactory,
    ParticipationFactory,
)
from tests.integrations.webhooks.webhook_support import make_endpoint

pytestmark = pytest.mark.django_db

# Every model the login path and the webhook drain write or read through core/statements.py.
SERVED = (
    LoginAttempt,
    Participant,
    RememberedLogin,
    SignInAlert,
    Session,
    Participation,
    WebhookDelivery,
    WebhookAttempt,
)


def _attempt(account, **values) -> LoginAttempt:
    return LoginAttempt(
        state_hash=values.pop("state_hash", "s" * 64),
        browser_hash="b" * 64,
        account=account,
        snapshot={"scope": "openid email", "nested": {"list": [1, "é"]}},
        nonce="n" * 43,
        code_verifier="the-verifier-" + "v" * 50,
        return_to="/c/x/form/",
        language="fr",
        embedded=True,
        expires_at=timezone.now() + timedelta(minutes=10),
        **values,
    )


@pytest.mark.parametrize("model", SERVED, ids=lambda model: model.__name__)
def test_no_model_it_serves_has_signal_receivers(model):
    # The statements send no signals: a receiver added later would silently miss every login.
    for signal in (pre_save, post_save, pre_delete, post_delete):
        assert not signal.has_listeners(model), (signal, model)


def test_an_inserted_row_reads_back_as_the_orm_stored_it():
    account = AccountFactory()
    inserted = row_insert(_attempt(account))
    assert inserted.pk is not None
    assert not inserted._state.adding

    stored = LoginAttempt.objects.get(pk=inserted.pk)  # the ORM's own read
    assert stored.snapshot == {"scope": "openid email", "nested": {"list": [1, "é"]}}
    assert stored.code_verifier == "the-verifier-" + "v" * 50
    assert stored.embedded is True and stored.is_test is False
    assert stored.language == "fr" and stored.account_id == account.pk
    # auto_now_add filled in, as by save(); the time zone kept.
    assert abs(stored.created_at - timezone.now()) < timedelta(minutes=1)
    assert abs(stored.expires_at - inserted.expires_at) < timedelta(microseconds=1)


def test_encrypted_fields_are_encrypted_in_the_column():
    account = AccountFactory()
    attempt = row_insert(_attempt(account))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code_verifier FROM participants_loginattempt WHERE id = %s", [attempt.pk]
        )
        (column,) = cursor.fetchone()
    assert "the-verifier" not in column
    assert column


def test_a_row_read_has_the_fields_converted_as_the_orm_reads_them():
    account = AccountFactory()
    orm = LoginAttempt.objects.create(
        **{
            f.attname: getattr(_attempt(account), f.attname)
            for f in LoginAttempt._meta.concrete_fields
            if not f.primary_key
        }
    )

    read = row_get(LoginAttempt, state_hash="s" * 64)

    assert read.pk == orm.pk and not read._state.adding
    for field in LoginAttempt._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(orm, field.attname), field.name
    assert read.expires_at.tzinfo is not None
    assert read.account == account  # relations load as on any instance


@pytest.mark.parametrize("read", ["session", "participant", "account"])
def test_other_rows_read_as_the_orm_reads_them(read):
    # The session and the participant are read on every prefilled page; an account has a slug,
    # which only Django's own conversions read (through raw()).
    account = AccountFactory(name="Ééé", slug="e-e-e")
    rows = {
        "session": lambda: Session.objects.create(
            session_key="k" * 32, session_data="données", expire_date=timezone.now()
        ),
        "participant": lambda: ParticipantFactory(account=account, last_login_at=timezone.now()),
        "account": lambda: account,
    }
    orm = rows[read]()
    model = type(orm)
    read_back = row_get(model, pk=orm.pk)
    orm.refresh_from_db()
    for field in model._meta.concrete_fields:
        assert getattr(read_back, field.attname) == getattr(orm, field.attname), field.name


def test_a_read_that_matches_nothing_is_none():
    assert row_get(LoginAttempt, state_hash="unknown") is None


def test_a_session_is_read_only_before_it_expires():
    now = timezone.now()
    Session.objects.create(session_key="a" * 32, session_data="x", expire_date=now + timedelta(1))
    Session.objects.create(session_key="b" * 32, session_data="y", expire_date=now - timedelta(1))
    assert row_get(Session, session_key="a" * 32, expire_date__gt=now).session_data == "x"
    assert row_get(Session, session_key="b" * 32, expire_date__gt=now) is None


def test_a_conditional_update_changes_a_row_once():
    # The login's single-use claim: of two claims of the same state, one changes the row.
    attempt = row_insert(_attempt(AccountFactory()))
    now = timezone.now()
    assert rows_update(LoginAttempt, {"used_at": now}, pk=attempt.pk, used_at__isnull=True) == 1
    assert rows_update(LoginAttempt, {"used_at": now}, pk=attempt.pk, used_at__isnull=True) == 0
    assert abs(LoginAttempt.objects.get(pk=attempt.pk).used_at - now) < timedelta(microseconds=1)


def test_an_update_by_attribute_name_sets_foreign_keys_and_encrypted_values():
    account = AccountFactory()
    participant = ParticipantFactory(account=account)
    attempt = row_insert(_attempt(account))
    rows_update(
        LoginAttempt,
        {"participant_id": participant.pk, "code_verifier": "", "outcome": "success"},
        pk=attempt.pk,
    )
    stored = LoginAttempt.objects.get(pk=attempt.pk)
    assert stored.participant == participant
    assert stored.code_verifier == "" and stored.outcome == "success"


def test_an_update_that_matches_nothing_changes_nothing():
    assert rows_update(SignInAlert, {"cleared_at": timezone.now()}, integration_id=0) == 0


def test_an_insert_on_a_conflict_updates_the_existing_row():
    account = AccountFactory()
    first, second = (
        OAuthIntegrationFactory(account=account),
        OAuthIntegrationFactory(account=account),
    )
    existing = ParticipantFactory(
        account=account, integration=first, issuer_key="iss", subject="42"
    )

    again = Participant(
        account=account,
        integration=second,
        issuer_key="iss",
        subject="42",
        last_login_at=timezone.now(),
    )
    row_insert(
        again,
        conflict=("account", "issuer_key", "subject"),
        update=("integration", "last_login_at"),
    )

    assert again.pk == existing.pk
    assert Participant.objects.filter(account=account).count() == 1
    existing.refresh_from_db()
    assert existing.integration == second and existing.last_login_at is not None


def test_a_duplicate_insert_fails_as_with_the_orm():
    account = AccountFactory()
    row_insert(_attempt(account))
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(_attempt(account))  # the same state_hash
    assert LoginAttempt.objects.count() == 1


def test_statements_join_the_callers_transaction():
    account = AccountFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        row_insert(_attempt(account))
        raise RuntimeError
    assert not LoginAttempt.objects.exists()


def test_exists_answers_for_the_rows_it_is_asked_about():
    participation = ParticipationFactory(campaign=CampaignFactory(), once_key="p:1")
    campaign_id = participation.campaign_id
    assert row_exists(Participation, campaign_id=campaign_id, once_key="p:1")
    assert not row_exists(Participation, campaign_id=campaign_id, once_key="p:2")
    assert not row_exists(Participation, campaign_id=campaign_id + 1, once_key="p:1")


def test_values_of_several_rows_are_what_values_list_reads_in_key_order():
    account, other = AccountFactory(), AccountFactory()
    older = make_endpoint(account, events=["participation.created"], auth_secret="tok-é")
    newer = make_endpoint(account, events=[], description="Zoë's CRM")
    make_endpoint(account, is_active=False)
    make_endpoint(account, disabled_at=timezone.now())
    make_endpoint(other)
    # The older row changed last: the answer still comes in key order.
    WebhookEndpoint.objects.filter(pk=older.pk).update(description="changed")
    names = ("id", "account_id", "events", "url", "secret", "auth_secret", "created_at")
    where = {"account_id": account.pk, "is_active": True, "disabled_at__isnull": True}

    read = rows_values(WebhookEndpoint, names, **where)

    assert read == list(WebhookEndpoint.objects.filter(**where).order_by("pk").values_list(*names))
    assert [row[0] for row in read] == [older.pk, newer.pk]
    assert read[0][2] == ["participation.created"] and read[1][2] == []
    assert read[0][5] == "tok-é"  # decrypted, as the ORM reads it
    assert all(row[6].tzinfo is not None for row in read)


def test_values_on_a_database_with_a_time_zone_of_its_own_come_from_values_list(
    monkeypatch, request
):
    # With a database TIME_ZONE, times need the backend's own conversions: the ORM reads them.
    account = AccountFactory()
    endpoint = make_endpoint(account, events=["participation.created"])
    monkeypatch.setitem(connection.settings_dict, "TIME_ZONE", "UTC")
    # The statement kept per process was worked out without that setting: forgotten before the
    # read, and after the test (with the setting back).
    statements._values_sql.cache_clear()
    request.addfinalizer(statements._values_sql.cache_clear)

    with CaptureQueriesContext(connection) as queries:
        read = rows_values(WebhookEndpoint, ("id", "events", "created_at"), account_id=account.pk)

    assert read == [(endpoint.pk, ["participation.created"], endpoint.created_at)]
    table = connection.ops.quote_name(WebhookEndpoint._meta.db_table)
    assert f"{table}.{connection.ops.quote_name('events')}" in queries[0]["sql"]  # the ORM's SQL


def test_values_of_no_row_are_an_empty_list():
    assert rows_values(WebhookEndpoint, ("id", "events"), account_id=0) == []


def test_values_of_a_field_it_does_not_read_are_refused():
    # A slug has conversions of the database's own that only the ORM applies.
    with pytest.raises(ValueError, match="Account.slug"):
        rows_values(Account, ("id", "slug"), pk=1)
    with pytest.raises(ValueError, match="WebhookEndpoint.nothing"):
        rows_values(WebhookEndpoint, ("nothing",), account_id=1)


def test_a_lookup_it_does_not_know_is_refused():
    with pytest.raises(ValueError, match="unsupported lookup"):
        row_get(LoginAttempt, state_hash__startswith="s")
    with pytest.raises(ValueError, match="__isnull=True"):
        row_get(LoginAttempt, used_at__isnull=False)


# ---------------------------------------------------------------------------- batches (webhooks)
def _deliveries(count: int, **values) -> list[WebhookDelivery]:
    endpoint = make_endpoint(AccountFactory())
    return [
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=message_id_generate(),
            event_type="participation.created",
            payload={"n": n, "name": "Zoë"},
            **values,
        )
        for n in range(count)
    ]


def _columns(rows) -> list[dict]:
    """Every column of these rows as the ORM reads them, without the primary key (which the
    two ways of writing give differently)."""
    names = [f.attname for f in rows.model._meta.concrete_fields if not f.primary_key]
    return list(rows.order_by("delivery_id", "started_at").values(*names))


def test_a_batch_insert_stores_what_bulk_create_stores():
    deliveries = _deliveries(3)
    started = timezone.now()

    def attempts(token):
        return [
            WebhookAttempt(
                delivery_id=delivery.pk,
                lease_token=token,
                started_at=started + timedelta(milliseconds=n),
                duration_ms=n or None,
                status_code=204 if n else None,
                error="" if n else "Réponse: <b>refusée</b>",
                response_body="é" * n,
                in_flight=not n,
            )
            for n, delivery in enumerate(deliveries)
        ]

    WebhookAttempt.objects.bulk_create(attempts("a" * 32))
    written = attempts("b" * 32)
    rows_insert(written)

    assert all(not attempt._state.adding for attempt in written)
    orm = _columns(WebhookAttempt.objects.filter(lease_token="a" * 32))
    ours = _columns(WebhookAttempt.objects.filter(lease_token="b" * 32))
    assert ours == [{**row, "lease_token": "b" * 32} for row in orm]
    assert len(ours) == 3


def test_a_batch_insert_larger_than_a_statement_allows_writes_every_row():
    # SQLite caps a statement's parameters: a batch above it is sent in several statements.
    (delivery,) = _deliveries(1)
    fields = [f for f in WebhookAttempt._meta.concrete_fields if not f.primary_key]
    count = min(connection.ops.bulk_batch_size(fields, [None] * 5000), 300) + 1
    rows_insert(
        [
            WebhookAttempt(delivery_id=delivery.pk, started_at=timezone.now(), duration_ms=n)
            for n in range(count)
        ]
    )
    stored = set(WebhookAttempt.objects.values_list("duration_ms", flat=True))
    assert stored == set(range(count))


def test_an_empty_batch_writes_nothing():
    rows_insert([])
    assert rows_update_each(WebhookDelivery, {}, lease_token="x") == 0
    assert not WebhookAttempt.objects.exists()


def test_a_batch_update_gives_each_row_its_own_values():
    deliveries = _deliveries(4, lease_token="t" * 32, status="pending")
    base = timezone.now()
    at = {d.pk: base + timedelta(seconds=n, microseconds=7) for n, d in enumerate(deliveries)}
    mine, other = deliveries[:3], deliveries[3]

    changed = rows_update_each(
        WebhookDelivery,
        {
            d.pk: {
                "status": "delivered",
                "delivered_at": at[d.pk],
                "last_status_code": 200 + n,  # differs too
                "last_error": "",
                "locked_until": None,
                "lease_token": "",
            }
            for n, d in enumerate(mine)
        },
        lease_token="t" * 32,
    )

    assert changed == 3
    for n, delivery in enumerate(mine):
        delivery.refresh_from_db()
        assert delivery.status == "delivered" and delivery.lease_token == ""
        assert delivery.delivered_at == at[delivery.pk]  # to the microsecond, time zone kept
        assert delivery.last_status_code == 200 + n
        assert delivery.payload == {"n": n, "name": "Zoë"}  # untouched
    other.refresh_from_db()
    assert other.status == "pending" and other.delivered_at is None  # not in the batch


def test_a_batch_update_changes_only_the_rows_that_still_match():
    # A worker whose lease ran out: the rows another claim took keep that claim's outcome.
    deliveries = _deliveries(3, lease_token="t" * 32)
    WebhookDelivery.objects.filter(pk=deliveries[1].pk).update(lease_token="u" * 32)
    now = timezone.now()

    changed = rows_update_each(
        WebhookDelivery,
        {d.pk: {"status": "delivered", "delivered_at": now} for d in deliveries},
        lease_token="t" * 32,
    )

    assert changed == 2
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {
        deliveries[0].pk: "delivered",
        deliveries[1].pk: "pending",
        deliveries[2].pk: "delivered",
    }


def test_a_batch_update_refuses_rows_that_give_different_fields():
    deliveries = _deliveries(2)
    with pytest.raises(ValueError, match="same fields"):
        rows_update_each(
            WebhookDelivery,
            {deliveries[0].pk: {"status": "delivered"}, deliveries[1].pk: {"last_error": "x"}},
        )
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}


def test_a_delete_removes_only_the_rows_it_names():
    deliveries = _deliveries(3)
    for delivery in deliveries:
        for token in ("a" * 32, "b" * 32):
            WebhookAttempt.objects.create(
                delivery=delivery, started_at=timezone.now(), lease_token=token
            )
    named = [deliveries[0].pk, deliveries[2].pk]

    assert rows_delete(WebhookAttempt, delivery_id__in=named, lease_token="a" * 32) == 2

    left = set(WebhookAttempt.objects.values_list("delivery_id", "lease_token"))
    assert left == {
        (deliveries[0].pk, "b" * 32),
        (deliveries[1].pk, "a" * 32),
        (deliveries[1].pk, "b" * 32),
        (deliveries[2].pk, "b" * 32),
    }


def test_an_empty_list_of_values_is_refused_before_any_statement():
    # `IN ()` is not SQL: the caller is told, rather than the database.
    (delivery,) = _deliveries(1)
    WebhookAttempt.objects.create(delivery=delivery, started_at=timezone.now())
    with pytest.raises(ValueError, match="empty list"):
        rows_delete(WebhookAttempt, delivery_id__in=[])
    assert WebhookAttempt.objects.count() == 1
