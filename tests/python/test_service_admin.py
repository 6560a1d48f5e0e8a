"""Model management while the server serves: ModelAdminService (load, reload,
unload), its admin-token rule, a reload under load that fails no request,
and SIGHUP applying an edited config file (and a SIGTERM during it)."""
import shutil
import signal
import threading

import grpc
import pytest

from service_support import (CALL_TIMEOUT_S, SHIPPED_MODEL, ServerProcess, admin_grpc, admin_pb,
                             call_error, detect_request, pb, serve, shapes_png, wait_until)


@pytest.fixture(scope="module")
def server():
    yield from serve("--max-batch-size", "1")


def png():
    return shapes_png(0).read_bytes()


def admin(server):
    return admin_grpc.ModelAdminServiceStub(server.channel())


def model_names(server):
    return [model.name for model in server.stub().ListModels(pb.ListModelsRequest(), timeout=CALL_TIMEOUT_S).models]


def test_load_serve_and_unload_a_second_model(server):
    response = admin(server).LoadModel(
        admin_pb.LoadModelRequest(path=str(SHIPPED_MODEL), name="second",
                                  batching=pb.Batching(max_batch_size=2, max_queue_size=8)),
        timeout=CALL_TIMEOUT_S)
    assert response.model.name == "second"
    assert response.model.batching.max_batch_size == 2
    assert response.load_milliseconds > 0
    assert model_names(server) == ["shapes-v1", "second"]
    detected = server.stub().Detect(detect_request(png(), model="second"), timeout=CALL_TIMEOUT_S)
    assert detected.model == "second" and len(detected.detections) > 0

    admin(server).UnloadModel(admin_pb.UnloadModelRequest(name="second"), timeout=CALL_TIMEOUT_S)
    assert model_names(server) == ["shapes-v1"]
    error = call_error(server.stub().Detect, detect_request(png(), model="second"))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_a_name_in_use_is_refused(server):
    error = call_error(admin(server).LoadModel, admin_pb.LoadModelRequest(path=str(SHIPPED_MODEL)))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "'shapes-v1' is loaded" in error.details()


def test_a_bundle_that_does_not_load_changes_nothing(server, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(SHIPPED_MODEL, broken)
    weights = broken / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    for path, says in ((tmp_path / "absent", "is not a directory"), (broken, "weights.pt")):
        error = call_error(admin(server).LoadModel, admin_pb.LoadModelRequest(path=str(path), name="x"))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(path) in error.details() and says in error.details(), error.details()
    error = call_error(admin(server).ReloadModel, admin_pb.ReloadModelRequest(name="shapes-v1", path=str(broken)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert model_names(server) == ["shapes-v1"]
    server.stub().Detect(detect_request(png()), timeout=CALL_TIMEOUT_S)


def test_load_model_takes_a_device_and_refuses_one_the_server_lacks(server):
    response = admin(server).LoadModel(
        admin_pb.LoadModelRequest(path=str(SHIPPED_MODEL), name="on-cpu", device="cpu"), timeout=CALL_TIMEOUT_S)
    assert response.model.device == "cpu"
    info = server.stub().GetModelInfo(pb.GetModelInfoRequest(name="on-cpu"), timeout=CALL_TIMEOUT_S)
    assert info.device == "cpu"
    admin(server).UnloadModel(admin_pb.UnloadModelRequest(name="on-cpu"), timeout=CALL_TIMEOUT_S)
    # No machine here has 100 GPUs; "tpu" is no device at all.
    for device, says in (("tpu", "'tpu' is not a device: expected cpu, cuda or cuda:N"), ("cuda:99", "cuda:99")):
        error = call_error(admin(server).LoadModel,
                           admin_pb.LoadModelRequest(path=str(SHIPPED_MODEL), name="elsewhere", device=device))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"cannot load model bundle '{SHIPPED_MODEL}': " in error.details(), error.details()
        assert says in error.details(), error.details()
    assert model_names(server) == ["shapes-v1"]


def test_the_default_and_unknown_models_cannot_be_unloaded(server):
    error = call_error(admin(server).UnloadModel, admin_pb.UnloadModelRequest(name="shapes-v1"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "default model" in error.details()
    error = call_error(admin(server).UnloadModel, admin_pb.UnloadModelRequest(name="nope"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = call_error(admin(server).ReloadModel, admin_pb.ReloadModelRequest(name="nope"))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_reloading_under_load_fails_no_request(server):
    request = detect_request(png(), mask_format=pb.MASK_FORMAT_NONE)
    expected = server.stub().Detect(request, timeout=CALL_TIMEOUT_S).detections
    results, errors = [], []
    reloading = threading.Event()
    reloading.set()

    def load():
        stub = server.stub()
        while reloading.is_set():
            try:
                results.append(stub.Detect(request, timeout=CALL_TIMEOUT_S).detections)
            except grpc.RpcError as error:
                errors.append(f"{error.code().name}: {error.details()}")

    clients = [threading.Thread(target=load) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        wait_until(lambda: len(results) >= 3, CALL_TIMEOUT_S, "the load to start")
        for _ in range(3):
            before = len(results)
            admin(server).ReloadModel(admin_pb.ReloadModelRequest(name="shapes-v1"), timeout=CALL_TIMEOUT_S)
            wait_until(lambda: len(results) > before, CALL_TIMEOUT_S, "requests on the reloaded model")
    finally:
        reloading.clear()
        for client in clients:
            client.join(timeout=CALL_TIMEOUT_S)
    assert errors == []
    # The same weights before and after: the same answer from every model version.
    assert all(detections == expected for detections in results)


def test_admin_calls_need_an_admin_token(tmp_path):
    (tmp_path / "users").write_text("user-token\n")
    (tmp_path / "admins").write_text("admin-token\n")
    with ServerProcess("--auth-token-file", tmp_path / "users", "--admin-token-file", tmp_path / "admins") as server:
        stub = admin(server)
        request = admin_pb.UnloadModelRequest(name="nope")
        error = call_error(stub.UnloadModel, request)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        error = call_error(stub.UnloadModel, request, metadata=[("authorization", "Bearer user-token")])
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "admin token" in error.details()
        error = call_error(stub.UnloadModel, request, metadata=[("authorization", "Bearer admin-token")])
        assert error.code() == grpc.StatusCode.NOT_FOUND  # authorized: the model is what is missing
        # An admin token opens the detection calls too.
        server.stub().Detect(detect_request(png()), timeout=CALL_TIMEOUT_S,
                             metadata=[("authorization", "Bearer admin-token")])


def test_sighup_applies_the_edited_config(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text(f"models:\n  - {{path: {SHIPPED_MODEL}}}\n  - {{name: extra, path: {SHIPPED_MODEL}}}\n")
    with ServerProcess("--config", config, model=None) as server:
        assert model_names(server) == ["shapes-v1", "extra"]
        config.write_text(f"models:\n  - {{path: {SHIPPED_MODEL}}}\n  - {{name: other, path: {SHIPPED_MODEL}}}\n")
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: model_names(server) == ["shapes-v1", "other"], CALL_TIMEOUT_S,
                   "the models of the edited config", server.log_tail)
        assert "event=model_reloaded model=shapes-v1" in server.log()
        server.stub().Detect(detect_request(png(), model="other"), timeout=CALL_TIMEOUT_S)


def test_sigterm_during_a_sighup_reload_drains_and_exits_0(tmp_path):
    """The reload runs on the server's main thread. A SIGTERM meanwhile used
    to reach a thread that a library had started before main (OpenBLAS's),
    where its default action killed the server on the spot."""
    config = tmp_path / "server.yaml"
    config.write_text(f"models:\n  - {{path: {SHIPPED_MODEL}}}\n")
    with ServerProcess("--config", config, model=None) as server:
        config.write_text(f"models:\n  - {{path: {SHIPPED_MODEL}}}\n  - {{name: extra, path: {SHIPPED_MODEL}}}\n")
        server.close_channels()
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "signal=SIGHUP" in server.log(), CALL_TIMEOUT_S, "the reload to start", server.log_tail)
        server.signal_stop()  # while the new model loads (~1 s)
        assert server.wait_exit() == 0, server.log_tail()
        log = server.log()
        assert log.index("event=model_loaded model=extra") < log.index("event=stopping") < log.index("event=stopped")
