"""Fixtures for the deadline engine's tests (helpers in tests.alerts.support)."""

import uuid

import pytest

from config.celery import app as celery_app
from tests.alerts.support import SmtpServer, Worker, child_env, make_team


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """The running SMTP server, emptied, with Django's email settings pointing at it."""
    yield smtp_server.use(settings)
    smtp_server.start()


@pytest.fixture
def team(db):
    return make_team()


@pytest.fixture(scope="session", autouse=True)
def celery_queue():
    """Every task this session publishes goes to the real broker, on a queue of its own."""
    from tests.alerts.support import broker_url

    queue = f"milepost-test-{uuid.uuid4().hex[:8]}"
    celery_app.conf.broker_url = broker_url()
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    celery_app.conf.task_default_queue = queue
    yield queue
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


def _purge(queue: str) -> None:
    """Tasks other modules queued while no worker ran are not for this worker."""
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, smtp_server, celery_queue, tmp_path_factory):
    """A real `celery worker` process on the session's queue, using the test database."""
    _purge(celery_queue)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = Worker(child_env(smtp_server, celery_queue), celery_queue, log)
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker_factory(smtp_server, celery_queue, tmp_path):
    """Start worker processes of this test's own (stopped, if still alive, at the end)."""
    workers: list[Worker] = []

    def start() -> Worker:
        _purge(celery_queue)
        log = tmp_path / f"worker-{len(workers)}.log"
        workers.append(Worker(child_env(smtp_server, celery_queue), celery_queue, log))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()
