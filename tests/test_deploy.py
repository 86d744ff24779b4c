"""The deployment description (Dockerfile, deploy/): no container engine runs on these machines,
so the image is never built here. What can be checked without one is: the Compose file is valid
for a real Compose implementation (`make compose` installs Debian's docker-compose), its parts
point at each other, the image is installed by `make install` and runs as a user of its own,
and the Grafana dashboard asks only for metrics, and labels, that the service exports."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "complaints.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "complaints.yml"
SERVICES = {"service", "postgres", "mlflow", "prometheus", "grafana"}


# -- reading the files as their tools do --------------------------------------------------------
def resolved(text: str) -> str:
    """The text as Compose reads it with none of its variables set: `${VAR:-default}` becomes the
    default (every variable here has one, or is passed through bare)."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", text)


def compose() -> dict:
    return yaml.safe_load(resolved(COMPOSE.read_text("utf-8")))


def mounted(service: dict, target: str) -> Path:
    """The file or folder of this repository that a service mounts at `target`."""
    for volume in service.get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target and source.startswith("."):
            return (COMPOSE.parent / source).resolve()
    raise AssertionError(f"nothing of the repository is mounted at {target}: {service['volumes']}")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    logical, pending = [], ""
    for line in dockerfile.read_text("utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [
        (keyword.upper(), arguments.strip())
        for keyword, _, arguments in (line.strip().partition(" ") for line in logical)
    ]


def command_words(arguments: str) -> list[str]:
    """The words of a CMD or RUN, in its JSON (exec) form or its shell form."""
    if arguments.startswith("["):
        return [word for part in json.loads(arguments) for word in shlex.split(part)]
    return shlex.split(arguments)


# -- PromQL: which metrics and labels an expression asks for ------------------------------------
# Names that stand where a metric could, but are PromQL's own.
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                "group_right", "offset", "bool", "inf", "nan"}  # fmt: skip
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")
IDENTIFIER = re.compile(r"(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()")


def promql_metrics(expr: str) -> set[str]:
    """The metric names an expression selects: every identifier that is neither a function
    (followed by a parenthesis), nor a label, nor a keyword, nor a Grafana variable."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # ranges: [5m], [$__rate_interval]
    bare = MATCHERS.sub("", GROUPING.sub("", bare))
    return {name for name in IDENTIFIER.findall(bare) if name not in PROMQL_WORDS}


def promql_labels(expr: str) -> tuple[set[str], set[str]]:
    """(labels the expression matches on or groups by, labels its result keeps): the second is
    what a legend's `{{label}}` may name."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    grouped = {
        label.strip()
        for found in GROUPING.findall(bare)
        for label in found.split(",")
        if label.strip()
    }
    matched = {
        re.split(r"\s*(?:=~|!~|!=|=)", matcher.strip())[0]
        for found in MATCHERS.findall(bare)
        for matcher in found.split(",")
        if matcher.strip()
    }
    kept = grouped - {"le"} if "histogram_quantile" in bare else grouped
    return grouped | matched, kept


@pytest.mark.parametrize(
    ("expr", "metrics", "labels"),
    [
        ("up", {"up"}, set()),
        (
            'sum by (route, status) (rate(a_total{status=~"5..", method!="GET"}[5m]))',
            {"a_total"},
            {"route", "status", "method"},
        ),
        (
            "histogram_quantile(0.99, sum by (le) (rate(h_bucket[$__rate_interval])))",
            {"h_bucket"},
            {"le"},
        ),
        ("sum(rate(x_sum[5m])) / sum(rate(x_count[5m])) * 60", {"x_sum", "x_count"}, set()),
        ("max(g) by (kind) > bool 0.25 or vector(0)", {"g"}, {"kind"}),
        ('count(c{rule="sum(x)"}) offset 1h', {"c"}, {"rule"}),
    ],
)
def test_promql_reading_finds_the_metrics_and_labels_an_expression_names(expr, metrics, labels):
    assert promql_metrics(expr) == metrics
    assert promql_labels(expr)[0] == labels


def dashboard_targets() -> list[tuple[str, dict]]:
    """(panel title, target) of every query of the dashboard, rows' panels included."""
    panels = json.loads(DASHBOARD.read_text("utf-8"))["panels"]
    panels += [inner for panel in panels for inner in panel.get("panels", [])]
    return [(panel["title"], target) for panel in panels for target in panel.get("targets", [])]


# -- what the service exports -------------------------------------------------------------------
def sample_names(family: str, kind: str) -> set[str]:
    """The series names Prometheus stores for a metric family as the service exports it with
    several workers (PROMETHEUS_MULTIPROC_DIR): no `_created` series there."""
    suffixes = {
        "counter": ["_total"],
        "histogram": ["_bucket", "_sum", "_count"],
        "summary": ["", "_sum", "_count"],
        "info": ["_info"],
    }.get(kind, [""])
    return {family + suffix for suffix in suffixes}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> str:
    """A real scrape of the app, at the path Prometheus is configured to scrape. No model is
    needed: every metric family is declared (HELP and TYPE) before it has a value."""
    from fastapi.testclient import TestClient

    from pettriage.api.main import create_app

    from .servers import settings_for

    path = prometheus_job()["metrics_path"]
    home = tmp_path_factory.mktemp("deploy-home")
    (home / "models").mkdir()
    app = create_app(settings_for(home, f"sqlite:///{home / 'test.db'}"))
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        response = client.get(path)
    assert response.status_code == 200, f"Prometheus scrapes {path}: {response.status_code}"
    return response.text


@pytest.fixture(scope="module")
def exported(scraped) -> set[str]:
    """Series names a Prometheus scraping the container's service can store."""
    from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR
    from prometheus_client.parser import text_string_to_metric_families

    # The process, platform and gc collectors are the single-process registry's; with
    # several workers (the container) the multiprocess collector exports none of them.
    single_process_only = {
        family.name
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)
        for family in collector.collect()
    }
    return {
        name
        for family in text_string_to_metric_families(scraped)
        if family.name not in single_process_only and not family.name.endswith("_created")
        for name in sample_names(family.name, family.type)
    }


def metric_labels() -> dict[str, set[str]]:
    """Series name → label names, from the metrics the service defines (a scrape lists a
    family's labels only once it has a value)."""
    from prometheus_client.metrics import MetricWrapperBase

    from pettriage.api import metrics

    labels: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            for name in sample_names(metric._name, metric._type):
                bucket = {"le"} if name.endswith("_bucket") else set()
                labels[name] = set(metric._labelnames) | bucket
    return labels


# -- the Compose file ---------------------------------------------------------------------------
@pytest.mark.compose
def test_compose_file_is_valid_for_docker_compose():
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail(
            "no docker-compose on PATH: run `make compose` (Debian's docker-compose, which "
            "validates deploy/compose.yaml with no container engine)"
        )
    result = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"docker-compose refuses {COMPOSE}:\n{result.stderr}"
    # A misspelt interpolation is only a warning to Compose, and an empty value to the service.
    assert "is not set" not in result.stderr, result.stderr


def test_compose_has_the_five_services_wired_to_each_other():
    services = compose()["services"]
    assert set(services) == SERVICES

    service, postgres, mlflow = services["service"], services["postgres"], services["mlflow"]
    env = service["environment"]
    database = urlsplit(env["DATABASE_URL"])
    assert (database.hostname, database.port) == ("postgres", 5432), env["DATABASE_URL"]
    assert database.path == "/" + postgres["environment"]["POSTGRES_DB"]
    assert database.username == postgres["environment"]["POSTGRES_USER"]
    assert database.password == postgres["environment"]["POSTGRES_PASSWORD"]

    command = mlflow["command"]
    tracking = urlsplit(env["MLFLOW_TRACKING_URI"])
    assert tracking.scheme == "http" and tracking.hostname == "mlflow", tracking
    assert str(tracking.port) == command[command.index("--port") + 1]
    assert f"mlflow:{tracking.port}" in command[command.index("--allowed-hosts") + 1].split(","), (
        "MLflow refuses a Host header it does not allow; the service calls it as mlflow:PORT"
    )

    # MLflow's runs and registry live in a database of the same server, made by an init script.
    backend = urlsplit(command[command.index("--backend-store-uri") + 1])
    assert backend.hostname == "postgres" and backend.path == "/mlflow", backend
    init = mounted(postgres, "/docker-entrypoint-initdb.d")
    assert any("CREATE DATABASE mlflow" in f.read_text("utf-8") for f in init.glob("*.sql"))

    for name in ("postgres", "mlflow"):
        assert service["depends_on"][name] == {"condition": "service_healthy"}
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck to wait on"
    assert env["WORKERS"] == "2"
    assert env["COMPLAINTS_HOME"] in {v.split(":")[1] for v in service["volumes"]}


def test_compose_gives_the_service_a_settings_file_it_accepts(monkeypatch):
    """Without keys the service serves loopback callers only, and in a container no caller is
    one: the mounted dev settings must give a key of every role."""
    from pettriage.config import Role, Settings

    service = compose()["services"]["service"]
    path = service["environment"]["COMPLAINTS_CONFIG"]
    monkeypatch.setenv("COMPLAINTS_CONFIG", str(mounted(service, path)))
    monkeypatch.delenv("COMPLAINTS_API_KEYS", raising=False)
    settings = Settings()
    assert set(settings.api_keys.values()) == set(Role)
    assert all(key.startswith("dev-") for key in settings.api_keys), "keys of a laptop only"


def test_compose_passwords_come_from_the_environment_with_dev_defaults():
    raw = yaml.safe_load(COMPOSE.read_text("utf-8"))
    secrets = {
        f"{name}.{key}": value
        for name, service in raw["services"].items()
        for key, value in (service.get("environment") or {}).items()
        if "PASSWORD" in key
    }
    assert secrets, "the file names no password at all"
    for where, value in secrets.items():
        assert re.fullmatch(r"\$\{\w+:-dev-only-[\w-]+\}", value), (
            f"{where} is {value!r}: take it from an environment variable, with an obviously-dev "
            "default such as ${POSTGRES_PASSWORD:-dev-only-postgres-password}"
        )


def prometheus_job() -> dict:
    """The one scrape job of the prometheus.yml that compose mounts into Prometheus."""
    path = mounted(compose()["services"]["prometheus"], "/etc/prometheus/prometheus.yml")
    (job,) = yaml.safe_load(path.read_text("utf-8"))["scrape_configs"]
    return job


def test_prometheus_scrapes_the_service_port_and_metrics_path():
    job = prometheus_job()
    assert job["metrics_path"] == "/metrics"
    (targets,) = (group["targets"] for group in job["static_configs"])
    exposed = dict(instructions(DOCKERFILE))["EXPOSE"]
    assert targets == [f"service:{exposed}"]


# -- the image ----------------------------------------------------------------------------------
def test_dockerfile_installs_with_make_install_and_runs_as_a_user_of_its_own():
    steps = instructions(DOCKERFILE)
    runs = [arguments for keyword, arguments in steps if keyword == "RUN"]
    assert any(re.search(r"(^|&&\s*)make install\b", run) for run in runs), runs
    assert not any("pip install" in run for run in runs), (
        "the image installs with `make install` only, so its steps are the ones `make test` runs"
    )
    assert re.search(r"^install:", (REPO / "Makefile").read_text("utf-8"), re.MULTILINE)

    keywords = [keyword for keyword, _ in steps]
    users = [arguments for keyword, arguments in steps if keyword == "USER"]
    assert users, "the Dockerfile never leaves root"
    assert users[-1].split(":")[0] not in {"root", "0"}, f"it ends as USER {users[-1]}"
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert keywords.index("CMD") > last_user, "the service would start as root"


def test_dockerfile_serves_like_make_serve():
    steps = instructions(DOCKERFILE)
    (cmd,) = (arguments for keyword, arguments in steps if keyword == "CMD")
    words = command_words(cmd)
    makefile = (REPO / "Makefile").read_text("utf-8")
    app = re.search(r"uvicorn (\S+)", makefile).group(1)
    uvicorn = words.index("uvicorn")
    assert words[uvicorn + 1] == app
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert words[words.index("--port") + 1] == dict(steps)["EXPOSE"]
    assert "--workers" in words
    env = " ".join(arguments for keyword, arguments in steps if keyword == "ENV")
    assert "PROMETHEUS_MULTIPROC_DIR=" in env and "PROMETHEUS_MULTIPROC_DIR" in cmd, (
        "several workers share their metrics only through PROMETHEUS_MULTIPROC_DIR"
    )


def test_dockerignore_keeps_the_hosts_virtualenv_and_stores_out():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    # .venv above all: its stamp would make `make install` a no-op in the image.
    assert {".venv", ".git", "mlruns", "mlartifacts", "mlflow.db", "*.db"} <= ignored
    assert "models" in ignored or "models/*" in ignored


def test_mlflow_server_is_pinned_to_the_versions_the_service_is_installed_with():
    text = (DEPLOY / "mlflow" / "Dockerfile").read_text("utf-8")
    for package in ("mlflow", "psycopg"):
        pinned = re.search(rf'"{package}(?:\[\w+\])?==([^"]+)"', text)
        installed = importlib.metadata.version(package)
        assert pinned and pinned.group(1) == installed, (
            f"deploy/mlflow/Dockerfile pins {package} "
            f"{pinned.group(1) if pinned else 'nowhere'}; the virtualenv has {installed}"
        )
    assert compose()["services"]["mlflow"]["image"].endswith(
        ":" + importlib.metadata.version("mlflow")
    )


# -- Grafana ------------------------------------------------------------------------------------
@pytest.mark.service
def test_dashboard_asks_only_for_metrics_the_service_exports(exported):
    # The reading of the scrape itself: a counter and a histogram as Prometheus names them.
    assert {"complaints_requests_total", "complaints_request_seconds_bucket"} <= exported
    targets = dashboard_targets()
    assert targets, "the dashboard has no queries"
    for title, target in targets:
        names = promql_metrics(target["expr"])
        assert names, f"{title!r}: no metric in {target['expr']!r}"
        assert names <= exported, (
            f"{title!r} asks for {sorted(names - exported)}, which /metrics does not export; "
            f"it exports {sorted(exported)}"
        )


def test_dashboard_groups_and_labels_by_labels_its_metrics_have():
    labels = metric_labels()
    for title, target in dashboard_targets():
        used, kept = promql_labels(target["expr"])
        for name in promql_metrics(target["expr"]):
            assert used <= labels.get(name, set()), (
                f"{title!r}: {name} has labels {sorted(labels.get(name, ()))}, "
                f"the query uses {sorted(used)}"
            )
        legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
        assert legend <= kept, f"{title!r}: the legend names {sorted(legend - kept)}"


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard():
    grafana = compose()["services"]["grafana"]
    assert mounted(grafana, "/etc/grafana/provisioning") == DATASOURCES.parents[1]

    (source,) = yaml.safe_load(DATASOURCES.read_text("utf-8"))["datasources"]
    assert source["type"] == "prometheus"
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus" and url.port == 9090, source["url"]

    (provider,) = yaml.safe_load(DASHBOARD_PROVIDERS.read_text("utf-8"))["providers"]
    folder = provider["options"]["path"]
    assert mounted(grafana, folder) == DASHBOARD.parent
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{folder}/{DASHBOARD.name}"

    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        for where in [panel, *panel.get("targets", [])]:
            if "datasource" in where:
                assert where["datasource"] == {"type": "prometheus", "uid": source["uid"]}, (
                    f"{panel['title']!r} names datasource {where['datasource']}; "
                    f"the provisioned one is {source['uid']!r}"
                )
    assert all("datasource" in panel for panel in panels if panel["type"] != "row"), (
        "a panel without a datasource uses Grafana's default, which may be another"
    )
