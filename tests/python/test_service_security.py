"""TLS, mutual TLS and bearer tokens, with certificates made by the openssl
CLI for each run, through grpcio and roiserve-client; no secret in logs; the
per-connection stream limit."""
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from service_support import (CALL_TIMEOUT_S, SERVICE_NAME, SHIPPED_MODEL, ServerProcess, call_error, client_tool,
                             compare_request, detect_request, make_certificates, pb, pb_grpc, run_server, serve,
                             shapes_png, tls_credentials)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def small_detect():
    return detect_request(shapes_png(0).read_bytes(), mask_format=pb.MASK_FORMAT_NONE)


def assert_handshake_refused(server, credentials):
    """A connection the TLS handshake refuses fails a call as UNAVAILABLE.
    credentials None: a plain connection."""
    channel = server.channel(credentials=credentials, plain=credentials is None)
    error = call_error(pb_grpc.DetectionServiceStub(channel).Detect, small_detect())
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()


# ----- TLS ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_server(certificates):
    yield from serve("--tls-cert", certificates["server.crt"], "--tls-key", certificates["server.key"],
                     credentials=tls_credentials(certificates["ca.crt"]))


def test_a_tls_client_trusting_the_ca_is_served(tls_server):
    assert tls_server.stub().Detect(small_detect(), timeout=CALL_TIMEOUT_S).detections


def test_a_plain_client_cannot_talk_to_a_tls_server(tls_server):
    assert_handshake_refused(tls_server, None)


def test_a_client_trusting_another_ca_is_refused(tls_server, certificates):
    assert_handshake_refused(tls_server, tls_credentials(certificates["other-ca.crt"]))


def test_roiserve_client_connects_with_tls_ca(tls_server, certificates):
    served = client_tool("--target", tls_server.address, "--tls-ca", certificates["ca.crt"], "--health")
    assert (served.returncode, served.stdout.strip()) == (0, "SERVING"), served.stderr
    plain = client_tool("--target", tls_server.address, "--health")
    assert plain.returncode == 1
    assert "roiserve-client: health: UNAVAILABLE: " in plain.stderr


def test_roiserve_client_checks_the_name_in_the_server_certificate(tls_server, certificates):
    # The certificate is for 127.0.0.1 and localhost.
    for name, exit_code in (("localhost", 0), ("elsewhere.example", 1)):
        completed = client_tool("--target", tls_server.address, "--tls-ca", certificates["ca.crt"],
                                "--tls-server-name", name, "--health")
        assert completed.returncode == exit_code, (name, completed.stderr)


@pytest.mark.parametrize("cert, key, client_ca, message", [
    ("server-expired.crt", "server.key", None, "the TLS certificate '{server-expired.crt}' expired on Jan  2 00:00:00 "
                                               "2020 GMT"),
    ("server.crt", "client.key", None, "the TLS key '{client.key}' is not the key of the certificate '{server.crt}'"),
    ("server.crt", "server.key", "server.key", "the TLS file '{server.key}' holds no PEM certificate"),
    ("server.crt", "server.crt", None, "the TLS key file '{server.crt}' holds no PEM private key"),
], ids=["expired", "another-key", "client-ca-without-certificate", "no-key"])
def test_tls_files_that_could_serve_no_handshake_stop_the_start_naming_them(certificates, cert, key, client_ca,
                                                                            message):
    flags = ["--tls-cert", certificates[cert], "--tls-key", certificates[key]]
    if client_ca:
        flags += ["--tls-client-ca", certificates[client_ca]]
    completed = run_server("--model", SHIPPED_MODEL, *flags)
    assert completed.returncode == 1
    for name, path in certificates.items():
        message = message.replace(f"{{{name}}}", str(path))
    output = completed.stdout + completed.stderr
    assert message in output, output


# ----- mutual TLS -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mutual_tls_server(certificates):
    yield from serve("--tls-cert", certificates["server.crt"], "--tls-key", certificates["server.key"],
                     "--tls-client-ca", certificates["ca.crt"],
                     credentials=tls_credentials(certificates["ca.crt"], certificates["client.crt"],
                                                 certificates["client.key"]))


def test_mutual_tls_serves_a_client_with_a_certificate_of_the_ca(mutual_tls_server):
    assert mutual_tls_server.stub().Detect(small_detect(), timeout=CALL_TIMEOUT_S).detections


def test_mutual_tls_refuses_a_client_without_a_certificate(mutual_tls_server, certificates):
    assert_handshake_refused(mutual_tls_server, tls_credentials(certificates["ca.crt"]))


def test_mutual_tls_refuses_a_certificate_the_ca_did_not_sign(mutual_tls_server, certificates):
    # The server's own certificate is signed by the CA, but the client must
    # present one of its own: a self-signed CA certificate is not one.
    other = tls_credentials(certificates["ca.crt"], certificates["other-ca.crt"],
                            certificates["other-ca.crt"].with_suffix(".key"))
    assert_handshake_refused(mutual_tls_server, other)


def test_mutual_tls_refuses_a_client_certificate_that_expired(mutual_tls_server, certificates):
    expired = tls_credentials(certificates["ca.crt"], certificates["client-expired.crt"], certificates["client.key"])
    assert_handshake_refused(mutual_tls_server, expired)


def test_roiserve_client_presents_its_certificate(mutual_tls_server, certificates):
    with_certificate = client_tool("--target", mutual_tls_server.address, "--tls-ca", certificates["ca.crt"],
                                   "--tls-cert", certificates["client.crt"], "--tls-key", certificates["client.key"],
                                   "--health")
    assert (with_certificate.returncode, with_certificate.stdout.strip()) == (0, "SERVING"), with_certificate.stderr
    without = client_tool("--target", mutual_tls_server.address, "--tls-ca", certificates["ca.crt"], "--health")
    assert without.returncode == 1 and "UNAVAILABLE" in without.stderr


# ----- bearer tokens ----------------------------------------------------------------------

TOKENS = ("first-secret-token", "second-secret-token")


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    # Comments and blank lines are not tokens; surrounding blanks are trimmed.
    path.write_text(f"# roiserve tokens\n\n{TOKENS[0]}\n  {TOKENS[1]}\t\n")
    return path


@pytest.fixture(scope="module")
def auth_server(token_file):
    yield from serve("--auth-token-file", token_file)


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


CALLS = {  # every detection-service method, as (stub method name, request)
    "Detect": lambda: ("Detect", small_detect()),
    "Compare": lambda: ("Compare", compare_request(shapes_png(0).read_bytes(), [("roi_align", ""), ("spp", "")],
                                                   mask_format=pb.MASK_FORMAT_NONE)),
    "ListModels": lambda: ("ListModels", pb.ListModelsRequest()),
    "GetModelInfo": lambda: ("GetModelInfo", pb.GetModelInfoRequest()),
    "DetectStream": lambda: ("DetectStream", iter([small_detect()])),
}


def call(server, method, metadata, timeout=CALL_TIMEOUT_S):
    name, request = CALLS[method]()
    answer = getattr(server.stub(), name)(request, timeout=timeout, metadata=metadata)
    return list(answer) if method == "DetectStream" else answer


@pytest.mark.parametrize("method", CALLS)
@pytest.mark.parametrize("metadata, message", [
    (None, "this server needs 'authorization: Bearer <token>' metadata"),
    (bearer("not-a-token"), "the bearer token is not valid"),
    ((("authorization", TOKENS[0]),), "the authorization metadata must be 'Bearer <token>'"),
], ids=["no token", "wrong token", "no Bearer scheme"])
def test_calls_without_a_valid_token_are_unauthenticated(auth_server, method, metadata, message):
    error = call_error(call, auth_server, method, metadata)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == message
    assert "not-a-token" not in error.details(), "the token is never echoed"


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("method", CALLS)
def test_calls_with_a_token_of_the_file_are_served(auth_server, method, token):
    answer = call(auth_server, method, bearer(token))
    if method == "DetectStream":
        assert [response.WhichOneof("outcome") for response in answer] == ["result"]


def test_health_and_reflection_stay_open_without_a_token(auth_server):
    for service in ("", SERVICE_NAME):
        answer = auth_server.health().Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_S)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert SERVICE_NAME in ProtoReflectionDescriptorDatabase(auth_server.channel()).get_services()


def test_roiserve_client_sends_the_token_of_its_file_or_environment(auth_server, tmp_path):
    (tmp_path / "token").write_text(f"{TOKENS[1]}\n")
    from_file = client_tool("--target", auth_server.address, "--token-file", tmp_path / "token", "--list-models")
    assert from_file.returncode == 0, from_file.stderr
    assert '"name": "shapes-v1"' in from_file.stdout
    from_environment = client_tool("--target", auth_server.address, "--list-models", env={"ROISERVE_TOKEN": TOKENS[0]})
    assert from_environment.returncode == 0, from_environment.stderr
    without = client_tool("--target", auth_server.address, "--list-models", env={"ROISERVE_TOKEN": ""})
    assert without.returncode == 1
    assert without.stderr.strip() == ("roiserve-client: ListModels: UNAUTHENTICATED: "
                                      "this server needs 'authorization: Bearer <token>' metadata")


def test_no_token_reaches_the_log(auth_server):
    """Every call is logged at the harness's debug level: with a valid
    token, a wrong one, and a token sent without its scheme."""
    for metadata in (bearer(TOKENS[0]), bearer(TOKENS[1]), bearer("not-a-token"), (("authorization", TOKENS[0]),)):
        try:
            call(auth_server, "Detect", metadata)
        except grpc.RpcError:
            pass
    log = auth_server.log()
    assert "method=Detect" in log
    for secret in (*TOKENS, "not-a-token"):
        assert secret not in log


# ----- limits -----------------------------------------------------------------------------

def test_a_connection_gets_at_most_max_concurrent_streams_calls_at_once(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text("limits:\n  max_concurrent_streams: 2\n")
    with ServerProcess("--config", config) as server:
        # A subchannel pool of its own: grpcio shares one connection between
        # channels to the same address otherwise.
        connection = grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)])
        stub = pb_grpc.DetectionServiceStub(connection)
        release = threading.Event()

        def one_message_then_wait():
            yield small_detect()
            release.wait(CALL_TIMEOUT_S)

        streams = [stub.DetectStream(one_message_then_wait(), timeout=CALL_TIMEOUT_S) for _ in range(2)]
        for stream in streams:
            assert next(stream).WhichOneof("outcome") == "result"  # both streams are open
        third = stub.Detect.future(small_detect(), timeout=CALL_TIMEOUT_S)
        # A Detect of this image takes ~30 ms: the call waits for a free stream.
        with pytest.raises(grpc.FutureTimeoutError):
            third.result(timeout=2)
        assert server.stub().Detect(small_detect(), timeout=CALL_TIMEOUT_S).detections, "another connection is served"
        release.set()
        for stream in streams:
            assert list(stream) == []
        assert third.result(timeout=CALL_TIMEOUT_S).detections
        connection.close()
