"""Serve both benchmark deployments from one `prefect.serve()` runner process.

Runner tuning comes only from the standard Prefect env/settings:
  PREFECT_RUNNER_POLL_FREQUENCY (default 10 s), PREFECT_RUNNER_PROCESS_LIMIT (default 5).
SERVE_LIMIT (optional) is passed as serve(limit=...) when set.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from prefect import serve  # noqa: E402

from flows import sleeper, three_step  # noqa: E402

if __name__ == "__main__":
    kwargs = {}
    if os.environ.get("SERVE_LIMIT"):
        kwargs["limit"] = int(os.environ["SERVE_LIMIT"])
    serve(
        three_step.to_deployment(name="bench"),
        sleeper.to_deployment(name="bench"),
        **kwargs,
    )
