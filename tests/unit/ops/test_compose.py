"""docker-compose.yml brings up every service the app needs, wired by the same variables.

Docker does not run on the machines the tests run on, so the file is checked as data.
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
APP_SERVICES = ("web", "worker", "beat", "relay")
BACKING_SERVICES = ("postgres", "redis", "kafka", "schema-registry")


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_every_service_the_app_needs_is_defined(services):
    assert set(services) >= {*BACKING_SERVICES, *APP_SERVICES, "migrate"}
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["schema-registry"]["image"].startswith("ghcr.io/aiven-open/karapace:")


def test_app_processes_are_built_from_the_dockerfile_and_run_their_own_command(services):
    commands = {name: " ".join(services[name]["command"]) for name in (*APP_SERVICES, "migrate")}

    for name in (*APP_SERVICES, "migrate"):
        assert services[name]["build"] == "."
    assert commands["web"].startswith("daphne ") and "eda_console.asgi:application" in commands["web"]
    assert commands["worker"].startswith("celery -A eda_console worker")
    assert commands["beat"].startswith("celery -A eda_console beat")
    assert commands["relay"] == "python manage.py run_relay"
    assert commands["migrate"] == "python manage.py migrate --noinput"


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_app_service_points_its_variables_at_the_compose_services(services, name):
    env = _environment(services[name])

    database = urlsplit(env["DATABASE_URL"])
    postgres = _environment(services["postgres"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert (database.username, database.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert database.path == "/" + postgres["POSTGRES_DB"]
    redis = urlsplit(env["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "PLAINTEXT://kafka:9092" in _environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for variable in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"):
        assert env[variable], variable


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_processes_wait_for_healthy_services_and_finished_migrations(services, name):
    depends_on = services[name]["depends_on"]

    for backing in BACKING_SERVICES:
        assert depends_on[backing]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_service_has_a_real_health_check(services):
    checks = {name: " ".join(services[name]["healthcheck"]["test"]) for name in (*BACKING_SERVICES, *APP_SERVICES)}

    assert "pg_isready" in checks["postgres"]
    assert "redis-cli ping" in checks["redis"]
    assert "kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in checks["kafka"]
    assert "http://127.0.0.1:8081/_health" in checks["schema-registry"]
    assert "http://127.0.0.1:8000/" in checks["web"]
    assert "inspect ping" in checks["worker"]
    assert "&& python manage.py healthcheck worker" in checks["worker"]
    assert checks["beat"] == "CMD python manage.py healthcheck beat"
    assert checks["relay"] == "CMD python manage.py healthcheck relay"
    assert "127.0.0.1" in _environment(services["web"])["ALLOWED_HOSTS"]


@pytest.mark.parametrize("name", ["worker", "beat", "relay"])
def test_heartbeat_checks_name_a_process_the_healthcheck_command_knows(services, name):
    from apps.messaging.management.commands.healthcheck import Command

    parser = Command().create_parser("manage.py", "healthcheck")
    test = services[name]["healthcheck"]["test"]
    argv = " ".join(test[1:]).split("manage.py healthcheck", 1)[1].split()

    assert parser.parse_args(argv).process == name
    # A check must outlast a Python + Django start-up, and a fresh container gets time to beat.
    assert _seconds(services[name]["healthcheck"]["timeout"]) >= 10
    assert _seconds(services[name]["healthcheck"]["start_period"]) >= 20


def _seconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(duration[:-1])


def test_kafka_is_a_single_kraft_node_without_zookeeper(services):
    kafka = services["kafka"]
    env = _environment(kafka)

    assert not any(key.startswith("KAFKA_ZOOKEEPER") for key in env)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert len(env["CLUSTER_ID"]) == 22  # a base64url UUID, as kafka-storage.sh formats with


SCALED_SERVICES = ("web", "worker", "relay")
NGINX_CONF = COMPOSE_FILE.parent / "deploy" / "nginx.conf"


@pytest.mark.parametrize("name", SCALED_SERVICES)
def test_scaled_services_name_no_container_and_publish_no_host_port(services, name):
    # `docker compose up --scale web=2 --scale worker=3 --scale relay=2`: a fixed name or host
    # port would let only the first replica start.
    service = services[name]

    assert "container_name" not in service
    assert "ports" not in service
    assert "hostname" not in service


def test_one_proxy_publishes_the_console_and_spreads_it_over_every_web_replica(services):
    proxy = services["proxy"]
    mount = next(volume for volume in proxy["volumes"] if volume.endswith("/etc/nginx/conf.d/default.conf:ro"))
    config = (COMPOSE_FILE.parent / mount.split(":", 1)[0]).resolve()
    text = config.read_text()

    assert config == NGINX_CONF
    assert [port.rsplit(":", 1)[1] for port in proxy["ports"]] == ["8000"]
    assert "container_name" not in proxy
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["web"]["expose"] == ["8000"]
    assert "8000" in " ".join(services["web"]["command"])
    # Resolved per request through Docker's DNS, so every replica (and later ones) get traffic.
    assert "resolver 127.0.0.11" in text
    assert "set $web_upstream http://web:8000;" in text and "proxy_pass $web_upstream;" in text
    # The console's live pushes are websockets: the upgrade must pass and idle sockets stay open.
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text
    assert "proxy_read_timeout 1h;" in text
    assert "http://127.0.0.1:8000/" in " ".join(proxy["healthcheck"]["test"])


def test_each_worker_replica_pings_its_own_celery_node(services):
    # Replicas differ by container hostname; a fixed node name would make every ping ask the first.
    assert "-d celery@$$HOSTNAME" in " ".join(services["worker"]["healthcheck"]["test"])
    assert "-n" not in services["worker"]["command"]


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate", "schema-registry-sync"])
def test_app_processes_use_the_real_schema_registry_and_choose_the_value_format(services, name):
    env = _environment(services[name])
    registry = _environment(services["schema-registry"])

    url = urlsplit(env["SCHEMA_REGISTRY_URL"])
    assert (url.scheme, url.hostname, url.port) == ("http", "schema-registry", int(registry["KARAPACE_PORT"]))
    assert env["KAFKA_VALUE_FORMAT"] == "${KAFKA_VALUE_FORMAT:-json}"
    assert registry["KARAPACE_BOOTSTRAP_URI"] == "kafka:9092"
    assert registry["KARAPACE_COMPATIBILITY"] == "BACKWARD"


def test_the_schemas_are_registered_once_before_the_app_processes_start(services):
    sync = services["schema-registry-sync"]

    assert " ".join(sync["command"]) == "python manage.py schema_registry_sync"
    assert sync["restart"] == "no"
    assert sync["depends_on"]["schema-registry"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["schema-registry-sync"]["condition"] == "service_completed_successfully"
