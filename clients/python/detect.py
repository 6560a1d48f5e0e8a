#!/usr/bin/env python3
"""A minimal Python client of roiserve-server, on grpcio and stubs generated
from proto/ (generated on first use into clients/python/generated/ when
grpcio-tools is installed):

    python3 -m pip install grpcio grpcio-tools
    python3 clients/python/detect.py --target localhost:50051 image.jpg [--head spp]
    python3 clients/python/detect.py --target localhost:50051 --compare roi_align,ps_roi_pool image.jpg

Prints one line per detection (class, score, box) and the server's per-stage
latencies; exits 1 with the gRPC status on an error.
"""
import argparse
import sys
from pathlib import Path

import grpc

HERE = Path(__file__).resolve().parent
PROTO_DIR = HERE.parent.parent / "proto"
GENERATED = HERE / "generated"


def load_stubs():
    """roiserve.v1 messages and stubs, generating them from the .proto files when needed."""
    if not (GENERATED / "roiserve" / "v1" / "detection_pb2_grpc.py").is_file():
        from grpc_tools import protoc

        GENERATED.mkdir(exist_ok=True)
        if protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={GENERATED}",
                        f"--grpc_python_out={GENERATED}", "roiserve/v1/detection.proto"]) != 0:
            sys.exit("cannot generate the stubs from proto/")
    sys.path.insert(0, str(GENERATED))
    from roiserve.v1 import detection_pb2, detection_pb2_grpc

    return detection_pb2, detection_pb2_grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:50051")
    parser.add_argument("--head", default="", help="box head (default: the model's)")
    parser.add_argument("--compare", default="", help="heads to compare, e.g. roi_align,spp")
    parser.add_argument("--deadline-s", type=float, default=30.0)
    parser.add_argument("image", type=Path)
    args = parser.parse_args()

    pb, rpc = load_stubs()
    stub = rpc.DetectionServiceStub(grpc.insecure_channel(args.target))
    image = pb.Image(encoded=args.image.read_bytes())
    try:
        if args.compare:
            variants = [pb.Variant(head=head) for head in args.compare.split(",")]
            response = stub.Compare(pb.CompareRequest(image=image, variants=variants), timeout=args.deadline_s)
            for result in response.results:
                print(f"{result.variant.head}: {len(result.detections)} detections")
            for agreement in response.agreements:
                print(f"{response.results[agreement.a].variant.head} vs {response.results[agreement.b].variant.head}: "
                      f"{agreement.matched} matched (mean IoU {agreement.mean_iou:.2f}), "
                      f"{agreement.only_a} only in the first, {agreement.only_b} only in the second")
            return 0
        response = stub.Detect(pb.DetectRequest(image=image, options=pb.DetectOptions(head=args.head)),
                               timeout=args.deadline_s)
    except grpc.RpcError as error:
        print(f"{error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    for detection in response.detections:
        box = detection.box
        print(f"{detection.class_name:10s} {detection.score:.2f} "
              f"[{box.x1:.1f}, {box.y1:.1f}, {box.x2:.1f}, {box.y2:.1f}]")
    print(", ".join(f"{stage.stage} {stage.milliseconds:.1f} ms" for stage in response.latency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
