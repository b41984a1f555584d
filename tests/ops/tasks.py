"""A task for the worker tests: a worker process imports it by its dotted path."""

from django_tasks import task


@task(queue_name="webhooks")
def add_numbers(a: int, b: int) -> int:
    return a + b
