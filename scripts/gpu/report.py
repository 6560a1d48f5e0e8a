#!/usr/bin/env python3
"""The reporting steps of scripts/gpu-check.sh (standard library only).

    report.py compare-ap CPU.json DEVICE.json --tolerance 0.005 [--reference report.json]
        Box and mask AP of `roiserve-device-check eval` on the device against
        the CPU run: prints JSON, exits 1 when an AP differs by more than the
        tolerance. --reference adds the shipped evaluation report's AP (made
        by roiserve-eval on the development machine's CPU) for information.
    report.py summarize WORKDIR OUTDIR
        Merges the parts' statuses (WORKDIR/parts.tsv) and results
        (WORKDIR/*.json) into OUTDIR/results.json and OUTDIR/summary.md.
"""
import argparse
import json
import sys
from pathlib import Path


def load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------
# compare-ap


def reference_ap(report):
    """{("box", head) or ("mask", "head/pooler"): AP} of a roiserve-eval report."""
    if report is None:
        return {}
    ap = {("box", h["head"]): h["bbox"]["AP"] for h in report.get("box_heads", [])}
    ap.update({("mask", f"{m['head']}/{m['mask_pooler']}"): m["segm"]["AP"]
               for m in report.get("masks", [])})
    return ap


def compare_ap(args):
    cpu, device = load(args.cpu), load(args.device)
    if cpu is None or device is None:
        print(json.dumps({"error": "an evaluation produced no JSON"}))
        return 1
    reference = reference_ap(load(args.reference)) if args.reference else {}
    rows, worst = [], 0.0
    for kind in ("box", "mask"):
        for variant in sorted(set(cpu[kind]) | set(device[kind])):
            cpu_ap = cpu[kind].get(variant, {}).get("AP")
            device_ap = device[kind].get(variant, {}).get("AP")
            difference = None if cpu_ap is None or device_ap is None else device_ap - cpu_ap
            if difference is not None:
                worst = max(worst, abs(difference))
            rows.append({"kind": kind, "variant": variant, "cpu_ap": cpu_ap,
                         "device_ap": device_ap, "difference": difference,
                         "reference_ap": reference.get((kind, variant)),
                         "within_tolerance": difference is not None
                         and abs(difference) <= args.tolerance})
    passed = bool(rows) and all(row["within_tolerance"] for row in rows)
    print(json.dumps({"tolerance": args.tolerance, "max_abs_difference": worst,
                      "passed": passed, "data": device.get("data"),
                      "cpu_inference_s": cpu.get("inference_s"),
                      "device_inference_s": device.get("inference_s"),
                      "device": device.get("device"), "rows": rows}, indent=1))
    return 0 if passed else 1


# ---------------------------------------------------------------------------
# summarize


def read_parts(workdir):
    parts = []
    path = workdir / "parts.tsv"
    if path.exists():
        for line in path.read_text().splitlines():
            name, status, seconds, limit, note = (line.split("\t") + [""] * 5)[:5]
            parts.append({"name": name, "status": status, "seconds": int(seconds or 0),
                          "limit_s": int(limit or 0), "note": note})
    return parts


def fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def parity_section(title, parity):
    if parity is None:
        return [f"### {title}", "", "No results.", ""]
    counts = parity["counts"]
    environment = ", ".join(f"{key} {value}" for key, value in parity["environment"].items())
    lines = [f"### {title}", "",
             ", ".join(f"{n} {status}" for status, n in counts.items() if n) +
             f" ({parity['seconds']} s; {environment})", ""]
    bad = [c for c in parity["checks"] if c["status"] not in ("passed", "skipped")]
    if bad:
        lines += ["| check | status | detail |", "|---|---|---|"]
        for check in bad[:60]:
            detail = check["detail"].splitlines()[0][:300].replace("|", "\\|")
            lines.append(f"| {check['name']} | {check['status']} | {detail} |")
        if len(bad) > 60:
            lines.append(f"| … {len(bad) - 60} more in results.json | | |")
        lines.append("")
    return lines


def benchmark_section(benchmark):
    if benchmark is None:
        return ["### Op benchmark", "", "No results.", ""]
    lines = ["### Op benchmark", "",
             f"{benchmark['device']}, torch {benchmark['torch']}, torchvision "
             f"{benchmark['torchvision']}; median of {benchmark['repetitions']} samples of "
             f"{benchmark['inner']} calls. Device-to-device copy: "
             f"{benchmark['copy_gbps']:.0f} GB/s (read + write).", "",
             "| op | layout | torchvision ms | roiserve ms | speed-up | roiserve GB/s | "
             "of copy | outputs |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in benchmark["rows"]:
        speedup = "—" if r["speedup"] is None else f"{r['speedup']:.2f}×"
        lines.append(f"| {r['op']} | {r['layout']} | {fmt(r['torchvision_ms'])} | "
                     f"{fmt(r['roiserve_ms'])} | {speedup} | {r['roiserve_gbps']:.0f} | "
                     f"{100 * r['fraction_of_copy']:.0f}% | {r['agreement']} |")
    return lines + [""]


def ap_section(comparison):
    if comparison is None:
        return ["### Detector AP (shapes-v1)", "", "No results.", ""]
    data = comparison.get("data") or {}
    last = (data.get("first") or 0) + (data.get("count") or 0) - 1
    lines = ["### Detector AP (shapes-v1)", "",
             f"Images {data.get('first')}..{last} of seed {data.get('seed')}; "
             f"{comparison.get('device')} against the CPU, tolerance "
             f"{comparison['tolerance']}: max |difference| "
             f"{comparison['max_abs_difference']:.4f}. Inference: CPU "
             f"{fmt(comparison.get('cpu_inference_s'), 1)} s, device "
             f"{fmt(comparison.get('device_inference_s'), 1)} s.", "",
             "| AP | head | CPU | device | difference | shipped report (dev. CPU) |",
             "|---|---|---:|---:|---:|---:|"]
    for r in comparison["rows"]:
        lines.append(f"| {r['kind']} | {r['variant']} | {fmt(r['cpu_ap'], 4)} | "
                     f"{fmt(r['device_ap'], 4)} | {fmt(r['difference'], 4)} | "
                     f"{fmt(r['reference_ap'], 4)} |")
    return lines + [""]


def latency_section(latencies):
    if not latencies:
        return ["### Detector latency", "", "No results.", ""]
    stages = []
    for result in latencies.values():
        for head in result["heads"].values():
            for stage in head["stages_ms"]:
                if stage not in stages:
                    stages.append(stage)
    lines = ["### Detector latency (median ms per call)", "",
             "| model | head | input | batch | " + " | ".join(stages) + " | wall | det/img |",
             "|---|---|---|---:|" + "---:|" * (len(stages) + 2)]
    for result in latencies.values():
        for name, head in result["heads"].items():
            cells = [fmt(head["stages_ms"].get(s, {}).get("median"), 2) for s in stages]
            lines.append(f"| {result['model']} | {name} | {result['height']}×{result['width']} | "
                         f"{result['batch']} | " + " | ".join(cells) +
                         f" | {fmt(head['wall_ms']['median'], 2)} | "
                         f"{fmt(head['detections_per_image'], 1)} |")
    device = next(iter(latencies.values()))["device"]
    return lines + ["", f"Device {device}; median over the repeats after warm-up; stages end "
                        "with a device synchronisation (StageTimer), wall is the whole "
                        "detect() call, synchronised.", ""]


def summarize(args):
    workdir, outdir = Path(args.workdir), Path(args.outdir)
    parts = read_parts(workdir)
    # In the order they ran.
    latencies = {path.stem: load(path) for path in
                 sorted(workdir.glob("latency_*.json"), key=lambda path: path.stat().st_mtime)}
    latencies = {k: v for k, v in latencies.items() if v is not None}
    results = {
        "passed": bool(parts) and all(p["status"] == "passed" for p in parts),
        "environment": load(workdir / "environment.json"),
        "parts": parts,
        "op_parity": load(workdir / "op_parity.json"),
        "memcheck": {"parity": load(workdir / "memcheck_parity.json"),
                     "sanitizer": load(workdir / "memcheck.json")},
        "racecheck": load(workdir / "racecheck.json"),
        "benchmark": load(workdir / "benchmark.json"),
        "detector_ap": load(workdir / "ap_comparison.json"),
        "detector_latency": latencies,
    }
    (outdir / "results.json").write_text(json.dumps(results, indent=1) + "\n")

    environment = results["environment"] or {}
    lines = ["# roiserve GPU check", "",
             f"Overall: **{'passed' if results['passed'] else 'FAILED'}**. "
             + ", ".join(f"{k}: {v}" for k, v in environment.items() if v), "",
             "| part | status | seconds | limit s | note |", "|---|---|---:|---:|---|"]
    for p in parts:
        lines.append(f"| {p['name']} | {p['status']} | {p['seconds']} | {p['limit_s']} | "
                     f"{p['note']} |")
    lines.append("")
    lines += parity_section("Op parity", results["op_parity"])
    sanitizer = results["memcheck"]["sanitizer"]
    lines += parity_section("Op parity (quick) under compute-sanitizer memcheck",
                            results["memcheck"]["parity"])
    if sanitizer:
        lines += [f"memcheck: {sanitizer.get('summary')}", ""]
    if results["racecheck"]:
        lines += [f"racecheck: {results['racecheck'].get('summary')}", ""]
    lines += benchmark_section(results["benchmark"])
    lines += ap_section(results["detector_ap"])
    lines += latency_section(latencies)
    lines.append("Logs of every part: logs.txt; every number: results.json.")
    (outdir / "summary.md").write_text("\n".join(lines) + "\n")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare-ap")
    compare.add_argument("cpu")
    compare.add_argument("device")
    compare.add_argument("--tolerance", type=float, default=0.005)
    compare.add_argument("--reference")
    summary = commands.add_parser("summarize")
    summary.add_argument("workdir")
    summary.add_argument("outdir")
    args = parser.parse_args()
    return compare_ap(args) if args.command == "compare-ap" else summarize(args)


if __name__ == "__main__":
    sys.exit(main())
