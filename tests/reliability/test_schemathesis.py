"""Every operation of the API, fuzzed from its own OpenAPI schema by schemathesis, with the key of
every role, against a real uvicorn: no answer is a server error.

The server runs in a home of its own (a copy of the session's models and MLflow store, a copy of
the corpus), because admin operations write: corrections are exported, versions promoted, a
training job may start (it is stopped at the end)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from pettriage.api.launcher import LiveServer

from ..conftest import CORPUS, SPLIT
from ..servers import KEYS

EXAMPLES = 12  # per operation and role: bounded, so the suite stays well under its budget


@pytest.fixture(scope="module")
def fuzzed_server(trained, settings, tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(settings.models, home / "models")
    shutil.copy(settings.home / "mlflow.db", home / "mlflow.db")
    shutil.copytree(CORPUS, home / "data" / "annotated")
    env = {
        "COMPLAINTS_HOME": str(home),
        "COMPLAINTS_MODELS_DIR": str(home / "models"),
        "COMPLAINTS_DATA_DIR": str(home / "data" / "annotated"),
        "COMPLAINTS_TEST_IDS": str(SPLIT),
        "DATABASE_URL": f"sqlite:///{home / 'fuzz.db'}",
        "COMPLAINTS_API_KEYS": json.dumps(KEYS),
        "COMPLAINTS_TRAIN_FOLDS": "2",
    }
    server = LiveServer(env, log=home / "server.log").start()
    yield server
    server.stop()
    for job in (home / "jobs").glob("*.json"):  # a training the fuzzer started
        pid = json.loads(job.read_text("utf-8")).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_no_operation_answers_a_server_error(fuzzed_server):
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    failures = []
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case):
            for key in KEYS:  # every generated request with the key of every role
                case.call_and_validate(
                    base_url=fuzzed_server.url,
                    headers={"X-API-Key": key},
                    checks=[not_a_server_error],
                    timeout=60,
                )

        try:
            fuzz()
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
