"""`eks-guardrail evaluate` on trail files: peak memory and speed against loading the file whole, in one run.

Builds, in a temporary directory:
- one trail file of N records (default 100,000; 1 in 1,000 an EKS access entry for an IAM
  user, the rest S3 reads, as a trail is mostly other services), plain and gzipped;
- a tree of 200 gzipped trail files of 500 records each (the same 100,000 records);
then runs each in a fresh process and reports wall time and peak RSS, against the same
process doing `json.load` of the plain file (what a naive reader holds) and `python -c pass`.
Run: `python benchmarks/trail_files.py [--records N]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _records(count: int):
    other = {
        "eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1",
        "eventTime": "2026-11-01T00:00:00Z", "readOnly": True, "eventType": "AwsApiCall",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/i-0abc", "accountId": "111122223333"},
        "requestParameters": {"bucketName": "data", "key": "reports/2026/11/01/part-00000.parquet", "Host": "data.s3.eu-west-1.amazonaws.com"},
        "responseElements": None, "sourceIPAddress": "10.0.0.1", "userAgent": "aws-sdk-java/2.25", "recipientAccountId": "111122223333",
    }
    sys.path.insert(0, str(ROOT / "tests"))
    import cloudtrail_builder as ct

    for i in range(count):
        if i % 1000 == 0:
            yield ct.create_access_entry(ct.user_arn(f"user{i}"))
        else:
            yield dict(other, eventID=f"00000000-0000-0000-0000-{i:012d}")


def _write_trail(path: Path, records, compress: bool) -> None:
    body = '{"Records":[' + ",".join(json.dumps(r, separators=(",", ":")) for r in records) + "]}"
    path.write_bytes(gzip.compress(body.encode()) if compress else body.encode())


def _peak_of(argv: list[str]) -> tuple[float, float, int]:
    """Runs `argv` under a small wrapper that reports its own child's peak RSS (independent of earlier runs)."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc]))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, check=True).stdout
    seconds, mib, code = json.loads(out)
    return seconds, mib, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    cli = [str(Path(sys.executable).parent / "eks-guardrail")]
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        records = list(_records(args.records))
        plain, zipped = base / "trail.json", base / "trail.json.gz"
        _write_trail(plain, records, compress=False)
        _write_trail(zipped, records, compress=True)
        tree = base / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-west-1" / "2026" / "11" / "01"
        tree.mkdir(parents=True)
        per_file = max(1, args.records // 200)
        for n, start in enumerate(range(0, args.records, per_file)):
            _write_trail(tree / f"f{n:04d}.json.gz", records[start : start + per_file], compress=True)
        del records
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "json.load of the plain file (a naive reader)": [sys.executable, "-c", f"import json; json.load(open({str(plain)!r}))"],
            f"evaluate: one trail file, {args.records:,} records": [*cli, "evaluate", str(plain)],
            "evaluate: the same, gzipped": [*cli, "evaluate", str(zipped)],
            "evaluate: the same records in 200 gzipped files": [*cli, "evaluate", str(base / "AWSLogs")],
        }
        print(f"plain file: {plain.stat().st_size / 2**20:.1f} MiB, gzipped: {zipped.stat().st_size / 2**20:.1f} MiB")
        print(f"{'case':<52} {'seconds':>8} {'peak RSS MiB':>13} {'records/s':>10}")
        naive = None
        for name, argv in cases.items():
            seconds, mib, code = _peak_of(argv)
            if code not in (0, 1):
                print(f"{name}: exit status {code}", file=sys.stderr)
                return 2
            rate = f"{args.records / seconds:,.0f}" if name.startswith("evaluate") else ""
            print(f"{name:<52} {seconds:>8.2f} {mib:>13.1f} {rate:>10}")
            if name.startswith("json.load"):
                naive = mib
            elif name.startswith("evaluate") and naive:
                print(f"{'':<52} {'':>8} {mib / naive:>12.2f}x of the naive reader's peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
