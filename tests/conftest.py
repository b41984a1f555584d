import pytest

from accounts.models import Role
from tests.factories import PASSWORD, AccountFactory, make_member, make_staff


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PUBLIC_BASE_URL = "https://sso.example.test"
    settings.WHITENOISE_AUTOREFRESH = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def account(db):
    return AccountFactory(name="Account A", slug="account-a")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Account B", slug="account-b")


@pytest.fixture
def staff_user(db):
    return make_staff(username="staff")


@pytest.fixture
def admin_user_a(account):
    return make_member(account, Role.ADMINISTRATOR, username="admin-a")


@pytest.fixture
def editor_a(account):
    return make_member(account, Role.EDITOR, username="editor-a")


@pytest.fixture
def admin_user_b(other_account):
    return make_member(other_account, Role.ADMINISTRATOR, username="admin-b")
