"""The RQ backend end to end: enqueued here, run by `manage.py rqworker` as deploy/Procfile does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django_tasks import TaskResultStatus

from tests.ops.conftest import TEST_REDIS_URL
from tests.ops.tasks import add_numbers

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def rq_backend(settings, redis_cache):
    settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS_URL}, "webhooks": {"URL": TEST_REDIS_URL}}
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "webhooks"]}
    }


def test_a_task_enqueued_by_the_web_process_is_run_by_an_rq_worker(rq_backend):
    result = add_numbers.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY

    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "rqworker",
            "--job-class",
            "django_tasks_rq.Job",
            "--burst",
            "default",
            "webhooks",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "TASKS_BACKEND": "rq", "REDIS_URL": TEST_REDIS_URL, "DJANGO_DEBUG": "1"},
        capture_output=True,
        timeout=60,
        check=True,
    )

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
