"""--precision on every program that runs the detector: roiserve-detect,
roiserve-eval, the detector benchmark and roiserve-server (flag, config file,
per model, LoadModel). A misspelt precision stops the program at start like
any other bad setting (CLI11's exit code for the tools, 2 for the server;
INVALID_ARGUMENT for LoadModel). GetModelInfo reports the precision in effect
and the one asked for; bf16 on a CPU without native bf16 runs fp32 and says
so. oneDNN's own cap on the instructions it uses, ONEDNN_MAX_CPU_ISA, makes
any CPU such a CPU."""
import os
from pathlib import Path

import grpc
import pytest

from service_support import (CALL_TIMEOUT_S, SHIPPED_MODEL, ServerProcess, admin_grpc, admin_pb, call_error, pb,
                             run_server)
from test_device_option import TOOLS, run_program

MISSPELT = ["fp16", "FP32", "bfloat16", "float32", "bf"]
NO_NATIVE_BF16 = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}


@pytest.mark.parametrize("program", TOOLS)
def test_a_tool_refuses_a_misspelt_precision_like_any_bad_flag(tmp_path, program):
    bad_flag = run_program(program, tmp_path, "--threads", "0")
    assert bad_flag.returncode != 0
    for precision in MISSPELT:
        completed = run_program(program, tmp_path, "--precision", precision)
        assert completed.returncode == bad_flag.returncode, (precision, completed.stderr)
        assert "--precision" in completed.stderr, completed.stderr
        assert f"'{precision}' is not a precision: expected fp32 or bf16" in completed.stderr, completed.stderr
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "report").exists()


def test_a_tool_asked_for_bf16_without_native_bf16_runs_fp32_saying_so(tmp_path):
    completed = run_program("roiserve-detect", tmp_path, "--precision", "bf16", env=NO_NATIVE_BF16)
    assert completed.returncode == 0, completed.stderr
    assert "precision bf16 requested: this CPU has no native bf16" in completed.stderr, completed.stderr
    assert (tmp_path / "out.json").is_file()


@pytest.mark.parametrize("precision", MISSPELT[:2])
def test_the_server_refuses_a_misspelt_precision_with_exit_2(precision):
    completed = run_server("--model", SHIPPED_MODEL, "--precision", precision)
    assert completed.returncode == 2, completed.stderr
    assert f"'precision': '{precision}' is not a precision: expected fp32 or bf16" in completed.stderr


def test_a_misspelt_precision_of_a_model_in_the_config_file_exits_2_naming_it(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text(f"models:\n  - {{path: {SHIPPED_MODEL}, precision: fp16}}\n")
    completed = run_server("--config", config)
    assert completed.returncode == 2, completed.stderr
    assert f"the precision of {SHIPPED_MODEL}: 'fp16' is not a precision" in completed.stderr, completed.stderr


def native_bf16():
    """What the kernel says of this CPU (and oneDNN's cap, where set)."""
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return bool(flags & {"avx512_bf16", "amx_bf16"}) and "ONEDNN_MAX_CPU_ISA" not in os.environ


def model_info(server, name):
    return server.stub().GetModelInfo(pb.GetModelInfoRequest(name=name), timeout=CALL_TIMEOUT_S)


def test_each_model_serves_in_its_precision_and_model_info_says_which(tmp_path, monkeypatch):
    monkeypatch.setenv(*next(iter(NO_NATIVE_BF16.items())))
    config = tmp_path / "server.yaml"
    config.write_text(f"models:\n  - {{name: a, path: {SHIPPED_MODEL}, precision: bf16}}\n"
                      f"  - {{name: b, path: {SHIPPED_MODEL}}}\n")
    with ServerProcess("--config", config, model=None) as server:
        info = model_info(server, "a")
        assert (info.precision, info.requested_precision) == ("fp32", "bf16")
        info = model_info(server, "b")  # the bundle's model.yaml default
        assert (info.precision, info.requested_precision) == ("fp32", "fp32")
        assert "precision_fallback" in server.log() and "no native bf16" in server.log(), server.log_tail()


def test_the_precision_flag_sets_every_model_and_load_model_takes_one(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text(f"models:\n  - {{name: a, path: {SHIPPED_MODEL}, precision: bf16}}\n")
    with ServerProcess("--config", config, "--precision", "fp32", model=None) as server:
        assert model_info(server, "a").requested_precision == "fp32"
        admin = admin_grpc.ModelAdminServiceStub(server.channel())
        error = call_error(admin.LoadModel, admin_pb.LoadModelRequest(path=str(SHIPPED_MODEL), name="c",
                                                                      precision="fp16"))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'fp16' is not a precision: expected fp32 or bf16" in error.details(), error.details()
        admin.LoadModel(admin_pb.LoadModelRequest(path=str(SHIPPED_MODEL), name="c", precision="bf16"),
                        timeout=CALL_TIMEOUT_S)
        info = model_info(server, "c")
        assert (info.precision, info.requested_precision) == ("bf16" if native_bf16() else "fp32", "bf16")
