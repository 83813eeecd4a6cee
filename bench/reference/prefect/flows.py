"""Trellis benchmark workload for Prefect 3: transform -> condition -> transform.

Each step is a Prefect @task inside one @flow. A second flow (`sleeper`)
runs a single task that sleeps 60 s; it is used for the cancel-latency probe.
"""
import time

from prefect import flow, task


@task
def transform_in(n: int) -> dict:
    return {"n": n + 1}


@task
def condition(doc: dict) -> bool:
    return doc["n"] > 0  # always true for the bench input


@task
def transform_out(doc: dict) -> dict:
    return {"n": doc["n"] * 2, "ok": True}


@flow(name="trellis-3step", log_prints=False)
def three_step(n: int = 1) -> dict:
    doc = transform_in(n)
    if condition(doc):
        return transform_out(doc)
    return doc


@task
def sleep_60() -> None:
    time.sleep(60)


@flow(name="trellis-sleeper")
def sleeper() -> None:
    sleep_60()
