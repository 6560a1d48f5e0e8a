"""Running the real roiserve-server in tests and talking to it over gRPC.

- `pb` / `pb_grpc`: Python stubs of proto/roiserve/v1/detection.proto, made
  with grpc_tools.protoc into a temporary directory once per process (the
  health and reflection stubs come with grpcio-health-checking and
  grpcio-reflection).
- `ServerProcess`: roiserve-server on free loopback ports, started and waited
  for (ports file, then grpc.health.v1 SERVING), stopped with SIGTERM.
- images of shapes-v1 in every encoding and as raw pixels, requests, and
  responses as roiserve-detect's JSON records, so results can be compared.

Every process and every wait is bounded; a server that fails to start or
stop fails the test with its log.
"""
import atexit
import importlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import grpc
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from roi_cases import REPO_ROOT
from tool_support import BUILD_DIR, SHIPPED_MODEL, export_shapes, run_tool

# Generous bounds: the suite shares 2 cores with other jobs, and a server
# loads and warms up its model before it reports SERVING.
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 60
# The deadline of every test call that sets none of its own, so that a
# server that never answers fails the test instead of hanging it.
CALL_TIMEOUT_S = 60
POLL_INTERVAL_S = 0.05
# What "refused fast" means in tests: no decoding, no queueing. Far above what
# a refusal takes (milliseconds), far below what the work refused would.
FAST_REFUSAL_S = 2.0
LOG_TAIL_CHARS = 6000

HEADS = ("roi_align", "roi_pool", "ps_roi_pool", "spp")
MASK_POOLERS = ("roi_align", "roi_pool")
SERVICE_NAME = "roiserve.v1.DetectionService"
# The stages of a response's latency list, in the order the API documents
# (StageLatency in detection.proto): those run once per image (Compare: once
# for all variants), the box head's, the mask head's, then encode and total.
SHARED_STAGES = ["queue_wait", "decode", "preprocess", "backbone", "rpn"]
BOX_STAGES = ["box_pool", "box_head", "postprocess"]
MASK_STAGES = ["mask_pool", "mask_head", "paste"]
DETECT_STAGES = SHARED_STAGES + BOX_STAGES + MASK_STAGES + ["encode", "total"]


def _generate_stubs():
    from grpc_tools import protoc

    out = Path(tempfile.mkdtemp(prefix="roiserve-stubs-"))
    atexit.register(shutil.rmtree, out, True)
    proto_dir = REPO_ROOT / "proto"
    well_known = Path(protoc.__file__).parent / "_proto"
    # Only our API: proto/grpc/health would generate a `grpc` package that
    # shadows grpcio itself.
    status = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}",
                          f"--python_out={out}", f"--grpc_python_out={out}",
                          str(proto_dir / "roiserve" / "v1" / "detection.proto"),
                          str(proto_dir / "roiserve" / "v1" / "admin.proto")])
    if status != 0:
        raise RuntimeError(f"grpc_tools.protoc failed ({status}) on {proto_dir}")
    sys.path.insert(0, str(out))
    return [importlib.import_module(f"roiserve.v1.{module}")
            for module in ("detection_pb2", "detection_pb2_grpc", "admin_pb2", "admin_pb2_grpc")]


pb, pb_grpc, admin_pb, admin_grpc = _generate_stubs()


def server_binary():
    path = BUILD_DIR / "server" / "roiserve-server"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the roiserve-server target (it needs gRPC)")
    return path


def wait_until(condition, timeout_s, what, on_timeout=lambda: ""):
    """Polls condition() until it returns something truthy, which it returns;
    fails the test after timeout_s saying what it waited for."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}\n{on_timeout()}")
        time.sleep(POLL_INTERVAL_S)


class ServerProcess:
    """roiserve-server on 127.0.0.1 (any free ports), as a context manager:

        with ServerProcess("--max-batch-size", "1") as server:
            server.stub().Detect(request, timeout=...)

    Entering waits until health says SERVING; leaving stops the server with
    SIGTERM if it still runs. `credentials` (grpc.ChannelCredentials) are
    what the harness's own channels (the health wait, channel(), stub())
    connect with: a TLS server's. `listen`: the gRPC address to bind (a
    fixed port for a server that takes over another's)."""

    def __init__(self, *flags, model=SHIPPED_MODEL, credentials=None, listen="127.0.0.1:0"):
        self.flags = [str(flag) for flag in flags]
        self.listen = listen
        self.model = model
        self.credentials = credentials
        self.directory = None
        self.process = None
        self.address = None
        self.metrics_address = None
        self.http_address = None
        self._channels = []
        self._stub = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self._discard()
            raise
        return self

    def __exit__(self, *exc_info):
        if self.process is not None and self.process.poll() is None:
            self.stop()
        self._discard()

    def _discard(self):
        """Kills a server still running (one that failed to start) and removes its files."""
        self.close_channels()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def log_path(self):
        return self.directory / "server.log"

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self):
        return f"--- server log (tail) ---\n{self.log()[-LOG_TAIL_CHARS:]}"

    def start(self):
        self.directory = Path(tempfile.mkdtemp(prefix="roiserve-server-"))
        ports_file = self.directory / "ports.json"
        # model None: the models come from a --config file among the flags.
        model = [] if self.model is None else ["--model", str(self.model)]
        command = [str(server_binary()), *model, "--listen", self.listen,
                   "--metrics-listen", "127.0.0.1:0", "--ports-file", str(ports_file),
                   "--threads", "1", "--log-level", "debug", *self.flags]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})

        def ports_written():
            self._fail_if_exited("before writing its ports file")
            return ports_file.is_file() and json.loads(ports_file.read_text())

        ports = wait_until(ports_written, START_TIMEOUT_S, f"{ports_file}", self.log_tail)
        self.address = ports["grpc"]
        self.http_address = ports["http"]
        self.metrics_address = ports["metrics"]  # the HTTP port's old name
        self.wait_serving()

    def _fail_if_exited(self, when):
        if self.process.poll() is not None:
            pytest.fail(f"roiserve-server exited with {self.process.returncode} {when}\n{self.log_tail()}")

    def wait_serving(self):
        """Watches health until SERVING (the models are loaded)."""
        answers = self.health().Watch(health_pb2.HealthCheckRequest(service=""), timeout=START_TIMEOUT_S)
        try:
            for answer in answers:
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    answers.cancel()
                    return
        except grpc.RpcError as error:
            self._fail_if_exited("while loading its models")
            pytest.fail(f"waiting for SERVING: {error.code().name}: {error.details()}\n{self.log_tail()}")
        pytest.fail(f"the health watch ended before SERVING\n{self.log_tail()}")

    def channel(self, credentials=None, plain=False):
        """A new channel to the server (closed when the server is), with
        `credentials`, else the server's own; plain: without any."""
        credentials = None if plain else credentials or self.credentials
        options = [("grpc.max_receive_message_length", -1)]  # PNG masks make large responses
        channel = (grpc.secure_channel(self.address, credentials, options) if credentials
                   else grpc.insecure_channel(self.address, options))
        self._channels.append(channel)
        return channel

    def stub(self):
        """A DetectionService stub on one shared channel."""
        if self._stub is None:
            self._stub = pb_grpc.DetectionServiceStub(self.channel())
        return self._stub

    def health(self):
        return health_pb2_grpc.HealthStub(self.channel())

    def signal_stop(self):
        """SIGTERM: the server drains and exits."""
        self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout_s=STOP_TIMEOUT_S):
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
            pytest.fail(f"roiserve-server did not exit within {timeout_s} s of SIGTERM\n{self.log_tail()}")

    def close_channels(self):
        """Closes every channel of channel() and stub(). The server's drain
        waits for its clients to hang up, and grpcio reads nothing on an idle
        channel (so never sees the server's GOAWAY): an open one would hold
        the exit for the whole grace period."""
        for channel in self._channels:
            channel.close()
        self._channels.clear()
        self._stub = None

    def stop(self, timeout_s=STOP_TIMEOUT_S):
        """SIGTERM, then the exit code."""
        self.close_channels()
        self.signal_stop()
        return self.wait_exit(timeout_s)

    def metrics(self):
        """The Prometheus text exposition of /metrics."""
        with urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=CALL_TIMEOUT_S) as page:
            return page.read().decode()

    def metric(self, name, **labels):
        return metric_value(self.metrics(), name, **labels)


def metric_value(exposition, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`
    (0 when there is none) in a Prometheus text exposition."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in exposition.splitlines():
        series, _, value = line.rpartition(" ")
        if (series == name or series.startswith(name + "{")) and all(label in series for label in wanted):
            total += float(value)
    return total


def run_server(*flags, env=None):
    """roiserve-server run to its exit (one that fails to start), on any free port;
    env: variables to set on top of the test's."""
    return subprocess.run([str(server_binary()), "--listen", "127.0.0.1:0", "--metrics-listen", "", *map(str, flags)],
                          capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False,
                          env={**os.environ, **(env or {})})


def serve(*flags, **options):
    """A module-scoped server fixture's body: `yield from serve(...)`."""
    with ServerProcess(*flags, **options) as server:
        yield server


# ----- images ----------------------------------------------------------------

@lru_cache(maxsize=None)
def shapes_dataset():
    """Four shapes-v1 validation images as PNG files and their COCO ground
    truth, written once per process."""
    directory = Path(tempfile.mkdtemp(prefix="roiserve-shapes-"))
    atexit.register(shutil.rmtree, directory, True)
    coco = export_shapes(directory, 4)
    return [directory / "images" / image["file_name"] for image in coco["images"]], coco


def shapes_png(index=0):
    return shapes_dataset()[0][index]


def rgb_pixels(index=0):
    """[H, W, 3] uint8 of a shapes-v1 image."""
    return np.asarray(Image.open(shapes_png(index)).convert("RGB"))


def encode(pixels, image_format, **save_options):
    """Bytes of an image file: pixels (HWC uint8, 1/3/4 channels) saved by PIL."""
    buffer = io.BytesIO()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[2] if pixels.ndim == 3 else 1]
    Image.fromarray(pixels.squeeze() if mode == "L" else pixels, mode).save(buffer, image_format, **save_options)
    return buffer.getvalue()


def raw_image(pixels, layout=None, data_type=None):
    """A RawImage of HWC pixels (uint8, or float32 in [0, 1]), as laid out."""
    height, width, channels = pixels.shape
    layout = layout if layout is not None else pb.RawImage.HWC
    data = np.transpose(pixels, (2, 0, 1)) if layout == pb.RawImage.CHW else pixels
    floats = pixels.dtype == np.float32
    if data_type is None:
        data_type = pb.RawImage.FLOAT32 if floats else pb.RawImage.UINT8
    data = np.ascontiguousarray(data, dtype="<f4" if floats else np.uint8).tobytes()  # the wire is little-endian
    return pb.RawImage(height=height, width=width, channels=channels, layout=layout, data_type=data_type, data=data)


def image_message(image):
    """An Image of encoded bytes or a RawImage."""
    return pb.Image(raw=image) if isinstance(image, pb.RawImage) else pb.Image(encoded=image)


def detect_request(image, request_id="", **options):
    """A DetectRequest of bytes or a RawImage; options are DetectOptions fields."""
    return pb.DetectRequest(image=image_message(image), options=pb.DetectOptions(**options), request_id=request_id)


def compare_request(image, variants, **options):
    """variants: (head, mask_pooler) pairs; options are DetectOptions fields."""
    return pb.CompareRequest(image=image_message(image),
                             variants=[pb.Variant(head=head, mask_pooler=pooler) for head, pooler in variants],
                             options=pb.DetectOptions(**options))


def call_error(call, *args, **kwargs):
    """The grpc.RpcError a call ends with; fails the test if it succeeds."""
    kwargs.setdefault("timeout", CALL_TIMEOUT_S)
    try:
        call(*args, **kwargs)
    except grpc.RpcError as error:
        return error
    pytest.fail(f"{call} succeeded where an error was expected")


def stages(latencies):
    """The stage names of a latency list, in order."""
    return [latency.stage for latency in latencies]


# ----- responses as roiserve-detect's JSON records -----------------------------

def shortest(value):
    """A float32 as the shortest decimal that reads back as it, the way the
    detections JSON writes it."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def detection_records(detections):
    """Detections as the "detections" of roiserve-detect's JSON."""
    records = []
    for detection in detections:
        box = detection.box
        record = {"bbox": [shortest(box.x1), shortest(box.y1), shortest(box.x2), shortest(box.y2)],
                  "category_id": detection.class_id, "category": detection.class_name,
                  "score": shortest(detection.score)}
        if detection.mask.HasField("coco_rle"):
            rle = detection.mask.coco_rle
            record["segmentation"] = {"size": [rle.height, rle.width], "counts": rle.counts}
        records.append(record)
    return records


def detect_json(tmp_path, images, *flags, name="detect.json"):
    """roiserve-detect on image files (one thread, as the test servers): its JSON."""
    output = Path(tmp_path) / name
    run_tool("roiserve-detect", "--model", SHIPPED_MODEL, "--threads", 1, *flags, "--json", output, *images)
    return json.loads(output.read_text())


def client_tool(*args, timeout=120, env=None):
    """roiserve-client; returns the CompletedProcess (never raises on its exit code)."""
    binary = BUILD_DIR / "tools" / "roiserve-client"
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build the roiserve-client target")
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env or {})}, check=False)


# ----- TLS and tokens ------------------------------------------------------------

def _openssl(*args, cwd):
    completed = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                               timeout=60, check=False)
    if completed.returncode != 0:
        pytest.fail(f"openssl {' '.join(map(str, args))} failed: {completed.stderr}")


def _expired_copy(directory, name):
    """{name}-expired.crt: the CA-signed certificate {name}.crt (same key,
    subject and extensions) valid on 1 January 2020 only. The openssl CLI of
    Debian 12 cannot date a certificate in the past."""
    ca_certificate = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    original = x509.load_pem_x509_certificate((directory / f"{name}.crt").read_bytes())
    builder = (x509.CertificateBuilder().subject_name(original.subject).issuer_name(ca_certificate.subject)
               .public_key(original.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(datetime(2020, 1, 1)).not_valid_after(datetime(2020, 1, 2)))
    for extension in original.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    expired = builder.sign(ca_key, hashes.SHA256())
    (directory / f"{name}-expired.crt").write_bytes(expired.public_bytes(serialization.Encoding.PEM))


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client
    certificate, all signed by the CA, copies of both that expired in 2020,
    and a second CA that signed nothing of this server's (P-256 keys, PEM
    files in `directory`). Returns their paths by name: ca, server.crt/key,
    client.crt/key, server-expired.crt, client-expired.crt, other-ca."""
    directory = Path(directory)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *key, "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2",
                 "-subj", f"/CN=roiserve test {ca}", cwd=directory)
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=roiserve test {name}",
                 cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=directory)
        _expired_copy(directory, name)
    return {name: directory / name for name in
            ("ca.crt", "other-ca.crt", "server.crt", "server.key", "client.crt", "client.key", "server-expired.crt",
             "client-expired.crt")}


def tls_credentials(ca, cert=None, key=None):
    """Client credentials trusting `ca`, with a client certificate if given."""
    return grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes(),
                                        private_key=Path(key).read_bytes() if key else None,
                                        certificate_chain=Path(cert).read_bytes() if cert else None)
