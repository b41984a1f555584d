"""django-rq's queue dashboard (installed with TASKS_BACKEND=rq) is platform staff's alone.

Its views ask only for `is_staff`, which every customer user is (to open the admin): an account's
Administrator or Editor could otherwise see and act on every account's queued jobs. Runs in the
production-like pass of CI (TASKS_BACKEND=rq), where django-rq is installed.
"""

import pytest
from django.apps import apps
from django.urls import reverse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not apps.is_installed("django_rq"), reason="django-rq is installed with TASKS_BACKEND=rq"
    ),
]

DASHBOARD = "admin:django_rq_dashboard_changelist"


def _urls():
    return [
        reverse(DASHBOARD),
        reverse("admin:django_rq_jobs", args=[0]),
        reverse("admin:django_rq_queue_details", args=[0]),
        reverse("admin:django_rq_failed_jobs", args=[0]),
    ]


@pytest.mark.parametrize("who", ["admin_user_a", "editor_a"])
def test_customer_users_never_reach_the_queue_dashboard(client, request, who):
    client.force_login(request.getfixturevalue(who))
    index = client.get(reverse("admin:index"))
    assert reverse(DASHBOARD) not in index.text
    for url in _urls():
        assert client.get(url).status_code == 403, url


def test_platform_staff_open_it(client, staff_user, redis_cache):
    client.force_login(staff_user)
    assert client.get(reverse(DASHBOARD)).status_code == 200
