"""Median over result.json files: python summarize.py results/*-default/result.json"""
import json
import statistics
import sys

rs = [json.load(open(p)) for p in sys.argv[1:]]
med = lambda xs: round(statistics.median(xs), 3)  # noqa: E731
all_cancel = [x for r in rs for x in r["cancel"]["all_s"]]
print(json.dumps({
    "runs": len(rs),
    "prefect_version": sorted({r["prefect_version"] for r in rs}),
    "runs_per_s": [r["runs_per_s"] for r in rs],
    "median_runs_per_s": med([r["runs_per_s"] for r in rs]),
    "median_p50_s": med([r["latency_s"]["p50"] for r in rs]),
    "median_p99_s": med([r["latency_s"]["p99"] for r in rs]),
    "failed_total": sum(r["failed"] + r["cancel"]["background_failed"] for r in rs),
    "median_cancel_p50_s": med([r["cancel"]["p50_s"] for r in rs if r["cancel"]["p50_s"]]),
    "cancel_all_s": sorted(all_cancel),
    "median_of_all_cancels_s": med(all_cancel) if all_cancel else None,
    "cancelled": sum(r["cancel"]["cancelled"] for r in rs),
    "cancel_trials": sum(r["cancel"]["trials"] for r in rs),
    "median_server_created_to_end_p50_s": med([r["server_side_s"]["created_to_end_p50"] for r in rs]),
    "median_server_start_to_end_p50_s": med([r["server_side_s"]["start_to_end_p50"] for r in rs]),
    "prefect_core0_share_pct": [
        round(sum(v["core_share_pct"] for v in r.get("prefect_cpu_measure", {}).values()), 1) for r in rs],
}, indent=1))
