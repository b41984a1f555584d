"""A task for the worker tests: a worker process imports it by its dotted path."""

from django_tasks import task


@task(queue_name="webhooks")
def add_numbers(a: int, b: int) -> int:
    return a + b


@task(queue_name="webhooks")
def sleep_then_add(seconds: float, a: int, b: int) -> int:
    """A job long enough for a test to kill Redis while it runs."""
    import time

    time.sleep(seconds)
    return a + b
