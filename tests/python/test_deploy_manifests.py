"""The deployment files agree with each other and with the server: the
Kubernetes manifests (deploy/k8s), the compose files and HAProxy's
configuration (docker/), and the Dockerfiles' runtime stages. Parses them
only; docker/test.sh and docker/test-scale-out.sh build and run the images.
"""
import json
import re

import pytest
import yaml

from roi_cases import REPO_ROOT

K8S = REPO_ROOT / "deploy" / "k8s"
DOCKER = REPO_ROOT / "docker"
CONFIG_MOUNT = "/etc/roiserve/server.yaml"
MODELS_IN_IMAGE = "/opt/roiserve/models"
CLIENT = "/opt/roiserve/bin/roiserve-client"


def options_of(source):
    """The --flags a CLI11 program declares, old names ("--new,--old") included."""
    text = (REPO_ROOT / source).read_text()
    declared = re.findall(r'add_(?:option|flag)\(\s*"(--[a-z0-9-]+(?:,\s*--[a-z0-9-]+)*)"', text)
    return {name.strip() for names in declared for name in names.split(",")}


SERVER_FLAGS = options_of("server/main.cpp")
CLIENT_FLAGS = options_of("tools/client/main.cpp")


def flags_in(args):
    return {arg for arg in args if arg.startswith("--")}


def flag_value(args, flag):
    return args[args.index(flag) + 1]


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def seconds(duration):
    """A compose duration such as '25s' or '1m30s'."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[unit] for n, unit in re.findall(r"(\d+(?:\.\d+)?)([hms])", duration))


@pytest.fixture(scope="module")
def server_config():
    return yaml.safe_load((K8S / "server.yaml").read_text())


@pytest.fixture(scope="module")
def drain_s(server_config):
    return server_config["shutdown_delay_s"] + server_config["shutdown_grace_s"]


@pytest.fixture(scope="module")
def kustomization():
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def manifests(kustomization):
    """(kind, name) -> manifest, for every resource the kustomization lists."""
    found = {}
    for resource in kustomization["resources"]:
        for manifest in yaml.safe_load_all((K8S / resource).read_text()):
            found[(manifest["kind"], manifest["metadata"]["name"])] = manifest
    return found


@pytest.fixture(scope="module")
def deployment(manifests):
    return manifests[("Deployment", "roiserve")]


@pytest.fixture(scope="module")
def container(deployment):
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


@pytest.fixture(scope="module")
def container_ports(container):
    return {port["name"]: port["containerPort"] for port in container["ports"]}


def compose(name):
    return yaml.safe_load((DOCKER / name).read_text())["services"]


def dockerfile_runtime_stage(name):
    """The last stage's instructions as (INSTRUCTION, arguments) pairs, with
    continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / name).read_text())
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(n for n, line in enumerate(lines) if line.startswith("FROM "))
    return [tuple(line.split(None, 1)) for line in lines[last_from:]]


def instruction(stage, name):
    (arguments,) = [arguments for keyword, arguments in stage if keyword == name]
    return arguments


def test_the_kustomization_lists_every_manifest(kustomization, manifests):
    listed = set(kustomization["resources"])
    generated = {file for generator in kustomization["configMapGenerator"] for file in generator["files"]}
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed | generated == on_disk
    assert {kind for kind, _ in manifests} == {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def test_the_container_config_is_one_the_server_reads(server_config):
    documented = yaml.safe_load((REPO_ROOT / "configs" / "server.yaml").read_text())
    assert set(server_config) <= set(documented)
    for model in server_config["models"]:
        assert model["path"].startswith(MODELS_IN_IMAGE + "/")
        bundle = REPO_ROOT / "models" / model["path"][len(MODELS_IN_IMAGE) + 1:]
        assert (bundle / "model.yaml").is_file(), f"{model['path']} is not a model of models/"


def test_the_deployment_runs_the_server_with_the_configmap(kustomization, deployment, container):
    args = container["args"]
    assert flags_in(args) <= SERVER_FLAGS
    mount = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    (config_volume,) = [name for name, volume in volumes.items() if "configMap" in volume]
    assert flag_value(args, "--config") == f"{mount[config_volume]}/server.yaml" == CONFIG_MOUNT
    (generator,) = kustomization["configMapGenerator"]
    assert volumes[config_volume]["configMap"]["name"] == generator["name"]
    assert "server.yaml" in generator["files"]


def test_ports_agree_with_the_server_config(server_config, manifests, container_ports):
    grpc, metrics = port_of(server_config["listen"]), port_of(server_config["http_listen"])
    assert container_ports == {"grpc": grpc, "metrics": metrics}
    for name in ("Dockerfile", "Dockerfile.cuda"):
        exposed = {int(port) for port in instruction(dockerfile_runtime_stage(name), "EXPOSE").split()}
        assert exposed == {grpc, metrics}, name
    services = [manifest for (kind, _), manifest in manifests.items() if kind == "Service"]
    assert len(services) == 2
    for service in services:
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports
            assert port["port"] == container_ports[port["targetPort"]]


def test_probes_are_native_grpc_health_checks_on_the_grpc_port(container, container_ports):
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert set(container[probe]) - {"periodSeconds", "failureThreshold", "timeoutSeconds"} == {"grpc"}
        assert container[probe]["grpc"] == {"port": container_ports["grpc"]}, probe


def test_termination_outlasts_the_drain(deployment, container, drain_s):
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain_s
    liveness = container["livenessProbe"]
    # A draining server answers NOT_SERVING: liveness must not restart it meanwhile.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > drain_s
    for file in ("compose.yaml", "compose.scale-out.yaml"):
        for name, service in compose(file).items():
            if service["image"].startswith("localhost/roiserve:"):
                assert service["stop_signal"] == "SIGTERM"
                assert seconds(service["stop_grace_period"]) > drain_s, f"{file}: {name}"


def test_threads_match_the_cpu_limit(server_config, container):
    resources = container["resources"]
    assert float(resources["requests"]["cpu"]) == float(resources["limits"]["cpu"]) == server_config["threads"]
    assert float(compose("compose.yaml")["roiserve"]["deploy"]["resources"]["limits"]["cpus"]) == \
        server_config["threads"]
    for name in ("replica-a", "replica-b"):
        replica = compose("compose.scale-out.yaml")[name]
        assert float(replica["deploy"]["resources"]["limits"]["cpus"]) == \
            float(flag_value(replica["command"], "--threads"))


def test_selectors_choose_the_deployments_pods(manifests, deployment):
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for (kind, name), manifest in manifests.items():
        if kind == "Service":
            assert manifest["spec"]["selector"].items() <= labels.items(), name
        if kind == "PodDisruptionBudget":
            assert manifest["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def test_autoscaler_and_disruption_budget_keep_a_pod_serving(manifests, deployment):
    autoscaler = manifests[("HorizontalPodAutoscaler", "roiserve")]["spec"]
    target = autoscaler["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    budget = manifests[("PodDisruptionBudget", "roiserve")]["spec"]
    assert budget["maxUnavailable"] < autoscaler["minReplicas"] <= autoscaler["maxReplicas"]
    rollout = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rollout["maxUnavailable"] == 0


def test_the_headless_service_lists_pods_for_client_side_balancing(manifests):
    headless = manifests[("Service", "roiserve-headless")]["spec"]
    assert headless["clusterIP"] == "None"
    assert not headless.get("publishNotReadyAddresses", False), "draining pods must leave DNS"
    assert [port["name"] for port in headless["ports"]] == ["grpc"]


def test_the_pod_runs_as_the_images_non_root_user(deployment, container):
    security = deployment["spec"]["template"]["spec"]["securityContext"]
    for name in ("Dockerfile", "Dockerfile.cuda"):
        user, group = instruction(dockerfile_runtime_stage(name), "USER").split(":")
        assert (security["runAsUser"], security["runAsGroup"]) == (int(user), int(group)), name
    assert security["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_image_health_checks_probe_the_grpc_port(server_config):
    grpc = port_of(server_config["listen"])
    for name in ("Dockerfile", "Dockerfile.cuda"):
        healthcheck = instruction(dockerfile_runtime_stage(name), "HEALTHCHECK")
        command = json.loads(healthcheck[healthcheck.index("CMD ") + 4:])
        assert command[0] == CLIENT and "--health" in command, name
        assert flags_in(command) <= CLIENT_FLAGS
        assert port_of(flag_value(command, "--target")) == grpc
    for file in ("compose.yaml", "compose.scale-out.yaml"):
        for service in compose(file).values():
            if "healthcheck" in service:
                kind, command = service["healthcheck"]["test"]
                arguments = command.split()
                assert kind == "CMD-SHELL" and arguments[0] == "roiserve-client" and "--health" in arguments
                assert flags_in(arguments) <= CLIENT_FLAGS
                assert port_of(flag_value(arguments, "--target")) == grpc


def test_compose_services_run_the_server_with_the_deployment_config(server_config):
    grpc, metrics = port_of(server_config["listen"]), port_of(server_config["http_listen"])
    for file in ("compose.yaml", "compose.scale-out.yaml"):
        for name, service in compose(file).items():
            if not service["image"].startswith("localhost/roiserve:"):
                continue
            assert flags_in(service["command"]) <= SERVER_FLAGS
            assert flag_value(service["command"], "--config") == CONFIG_MOUNT
            assert f"../deploy/k8s/server.yaml:{CONFIG_MOUNT}:ro" in service["volumes"]
            published = {int(port.rsplit(":", 1)[1]) for port in service["ports"]}
            assert published <= {grpc, metrics} and metrics in published, f"{file}: {name}"


def test_the_dockerfiles_runtime_stages_are_in_step():
    cpu, cuda = dockerfile_runtime_stage("Dockerfile"), dockerfile_runtime_stage("Dockerfile.cuda")
    for name in ("USER", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "ENTRYPOINT", "WORKDIR"):
        assert instruction(cpu, name) == instruction(cuda, name), name
    assert instruction(cpu, "STOPSIGNAL") == "SIGTERM"
    cpu_command, cuda_command = (json.loads(instruction(stage, "CMD")) for stage in (cpu, cuda))
    assert cuda_command == cpu_command + ["--device", "cuda"]
    assert flags_in(cuda_command) <= SERVER_FLAGS
    for stage in (cpu, cuda):
        labels = instruction(stage, "LABEL")
        for key in ("title", "description", "version", "revision", "base.name"):
            assert f"org.opencontainers.image.{key}=" in labels


def test_the_cuda_image_builds_against_the_torch_of_the_cuda_build():
    """Dockerfile.cuda installs the torch wheel that scripts/install-deps.sh
    cuda installs for build-cuda/, so that both build the same LibTorch."""
    dockerfile = (DOCKER / "Dockerfile.cuda").read_text()
    (image_torch,) = re.findall(r"^ARG TORCH_VERSION=(\S+)$", dockerfile, re.M)
    install_deps = (REPO_ROOT / "scripts" / "install-deps.sh").read_text()
    (build_torch,) = re.findall(r"^cuda_torch=torch==(\S+)$", install_deps, re.M)
    assert image_torch == build_torch


def test_prometheus_scrapes_the_compose_service(server_config):
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    (target,) = job["static_configs"][0]["targets"]
    service, port = target.split(":")
    assert service in compose("compose.yaml") and int(port) == port_of(server_config["http_listen"])


def hpack_literals(block):
    """Decodes the HPACK subset HAProxy's check sends: static-table entries
    and literals without indexing or Huffman coding."""
    static = {1: ":authority", 2: (":method", "GET"), 3: (":method", "POST"), 4: ":path",
              6: (":scheme", "http"), 31: "content-type"}
    headers, at = [], 0

    def string():
        nonlocal at
        assert not block[at] & 0x80, "Huffman-coded"
        length = block[at]
        at += 1 + length
        return block[at - length:at].decode()

    while at < len(block):
        byte = block[at]
        at += 1
        if byte & 0x80:
            headers.append(static[byte & 0x7F])
            continue
        index = byte & 0x0F
        if index == 0x0F:
            index += block[at]
            at += 1
        name = static[index] if index else string()
        headers.append((name, string()))
    return headers


def test_the_load_balancer_checks_grpc_health_and_balances_the_replicas(server_config):
    config = (DOCKER / "load-balancer" / "haproxy.cfg").read_text()
    sent = bytes.fromhex("".join(re.findall(r"^\s*tcp-check send-binary (\S+)", config, re.M)))
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    assert sent.startswith(preface)
    frames, at = [], len(preface)
    while at < len(sent):
        length, kind, flags = int.from_bytes(sent[at:at + 3], "big"), sent[at + 3], sent[at + 4]
        frames.append((kind, flags, sent[at + 9:at + 9 + length]))
        at += 9 + length
    assert at == len(sent), "a frame's length does not match its payload"
    settings, headers, data = frames
    assert settings == (0x4, 0, b"")
    assert headers[:2] == (0x1, 0x4)  # HEADERS, END_HEADERS
    assert dict((h if isinstance(h, tuple) else (h, None)) for h in hpack_literals(headers[2])) == {
        ":method": "POST", ":scheme": "http", ":path": "/grpc.health.v1.Health/Check",
        ":authority": "roiserve", "content-type": "application/grpc", "te": "trailers"}
    assert data == (0x0, 0x1, bytes(5))  # DATA, END_STREAM: an empty HealthCheckRequest
    # Uncompressed, 2 bytes: status (field 1, varint) = SERVING (1).
    assert re.search(r"^\s*tcp-check expect binary (\S+)", config, re.M)[1] == "00000000020801"

    services = compose("compose.scale-out.yaml")
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)", config, re.M)
    replicas = [name for name, service in services.items() if service["image"].startswith("localhost/roiserve:")]
    assert sorted(name for name, _, _ in servers) == sorted(replicas)
    grpc = port_of(server_config["listen"])
    for name, host, port in servers:
        assert host == name and int(port) == grpc
    assert int(re.search(r"^frontend grpc\n\s*bind :(\d+) proto h2", config, re.M)[1]) == grpc
    balancer = services["load-balancer"]
    assert {int(port.rsplit(":", 1)[1]) for port in balancer["ports"]} == {
        grpc, int(re.search(r"^frontend stats\n\s*bind :(\d+)", config, re.M)[1])}
