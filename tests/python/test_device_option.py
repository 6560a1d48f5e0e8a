"""--device on every program that runs the detector: roiserve-detect,
roiserve-eval, the detector benchmark and roiserve-server (flag, config file,
per model). A misspelt device and a CUDA device that the build or the machine
lacks stop the program at start, before any model loads, with a message that
says why and the exit code of any other bad setting (CLI11's for the tools,
2 for the server).

CUDA_VISIBLE_DEVICES="" hides every GPU, so "no CUDA device" is what a
machine without one looks like whatever LibTorch the build has (Debian's has
no CUDA at all: "no CUDA support")."""
import pytest

from service_support import CALL_TIMEOUT_S, SHIPPED_MODEL, ServerProcess, pb, run_server, shapes_png
from tool_support import BUILD_DIR, run_tool

NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}
MISSPELT = ["tpu", "cuda:x", "cuda:", "CUDA", "cuda:-1", "cpu:0"]


def no_cuda_reason(stderr):
    return "no CUDA support" in stderr or "no CUDA device found" in stderr


def bench():
    path = BUILD_DIR / "benchmarks" / "roiserve_detector_bench"
    if not path.is_file():
        pytest.skip(f"{path} is not built (the benchmarks need CLI11 and nlohmann-json)")
    return path


def run_program(program, tmp_path, *flags, env=None):
    """One of the tools with the least arguments for a run on the shipped model."""
    if program == "roiserve-detect":
        args = ["--model", SHIPPED_MODEL, *flags, "--json", tmp_path / "out.json", shapes_png(0)]
        return run_tool(program, *args, check=False, env=env)
    if program == "roiserve-eval":
        args = ["--model", SHIPPED_MODEL, "--shapes-count", 1, *flags, "--output", tmp_path / "report"]
        return run_tool(program, *args, check=False, env=env)
    args = ["--model", SHIPPED_MODEL, "--iterations", 1, "--warmup", 0, "--inputs", 1, "--size", 64, *flags]
    return run_tool(program, *args, check=False, env=env, path=bench())


TOOLS = ["roiserve-detect", "roiserve-eval", "roiserve_detector_bench"]


@pytest.mark.parametrize("program", TOOLS)
def test_a_tool_refuses_a_misspelt_device_like_any_bad_flag(tmp_path, program):
    bad_flag = run_program(program, tmp_path, "--threads", "0")
    assert bad_flag.returncode != 0
    for device in MISSPELT:
        completed = run_program(program, tmp_path, "--device", device)
        assert completed.returncode == bad_flag.returncode, (device, completed.stderr)
        assert "--device" in completed.stderr, completed.stderr
        assert f"'{device}' is not a device: expected cpu, cuda or cuda:N" in completed.stderr, completed.stderr
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "report").exists()


@pytest.mark.parametrize("program", TOOLS)
def test_a_tool_asked_for_a_gpu_the_machine_lacks_stops_at_start_saying_why(tmp_path, program):
    bad_flag = run_program(program, tmp_path, "--threads", "0")
    for device in ("cuda", "cuda:0", "cuda:1"):
        completed = run_program(program, tmp_path, "--device", device, env=NO_GPU)
        assert completed.returncode == bad_flag.returncode, (device, completed.stderr)
        shown = device if ":" in device else "cuda:0"
        assert f"device {shown}: " in completed.stderr, completed.stderr
        assert no_cuda_reason(completed.stderr), completed.stderr
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "report").exists()


def test_a_tool_runs_on_the_cpu_when_asked(tmp_path):
    completed = run_program("roiserve-detect", tmp_path, "--device", "cpu")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "out.json").is_file()


@pytest.mark.parametrize("device", MISSPELT)
def test_the_server_refuses_a_misspelt_device_with_exit_2(device):
    completed = run_server("--model", SHIPPED_MODEL, "--device", device)
    assert completed.returncode == 2, completed.stderr
    assert f"'device': '{device}' is not a device: expected cpu, cuda or cuda:N" in completed.stderr


def test_the_server_asked_for_a_gpu_the_machine_lacks_exits_2_before_loading_saying_why():
    completed = run_server("--model", SHIPPED_MODEL, "--device", "cuda", env=NO_GPU)
    assert completed.returncode == 2, completed.stderr
    assert "'device': device cuda:0: " in completed.stderr and no_cuda_reason(completed.stderr), completed.stderr
    assert "model_loaded" not in completed.stdout + completed.stderr


def test_a_model_of_the_config_file_on_a_gpu_the_machine_lacks_exits_2_naming_it(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text(f"device: cpu\nmodels:\n  - {{path: {SHIPPED_MODEL}, device: 'cuda:1'}}\n")
    completed = run_server("--config", config, env=NO_GPU)
    assert completed.returncode == 2, completed.stderr
    assert f"the device of {SHIPPED_MODEL}: device cuda:1: " in completed.stderr, completed.stderr
    assert no_cuda_reason(completed.stderr), completed.stderr
    config.write_text(f"models:\n  - {{path: {SHIPPED_MODEL}, device: tpu}}\n")
    completed = run_server("--config", config)
    assert completed.returncode == 2, completed.stderr
    assert f"the device of {SHIPPED_MODEL}: 'tpu' is not a device" in completed.stderr, completed.stderr


def test_the_device_flag_moves_every_model_and_model_info_reports_the_device_in_effect(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text(f"device: cuda\nmodels:\n  - {{name: a, path: {SHIPPED_MODEL}, device: 'cuda:1'}}\n"
                      f"  - {{name: b, path: {SHIPPED_MODEL}}}\n")
    with ServerProcess("--config", config, "--device", "cpu", model=None) as server:
        for name in ("a", "b"):
            info = server.stub().GetModelInfo(pb.GetModelInfoRequest(name=name), timeout=CALL_TIMEOUT_S)
            assert info.device == "cpu"
        assert "device=cpu" in server.log(), server.log_tail()
