"""Throughput of the full roibench pipeline against a bare AsyncOpenAI loop, side by side.

    python benchmarks/throughput.py [--trials K] [--latencies 0,0.2] [--concurrency 32,128]
                                    [--rounds R] [--quick]

The simulator runs in its own process (`roibench sim --latency L`), so it does not share the
client's interpreter. For each (latency, concurrency) setting, interleaved in rounds (3 by
default; the ratios are taken within each round, then their median is printed):
  (a) bare: a minimal tool-calling loop on `openai.AsyncOpenAI` making the same calls the ReAct
      agent makes (same prompts, tools and tool results), nothing else;
  (b) roibench: the whole pipeline — LangGraph agent, grading, pricing, the fsynced journal,
      economics, and MLflow logging at the end (runs, metrics, tables, plots), no traces;
  (c) roibench + a trace per trial.
It prints tasks/s, the ratios b/a and c/a, the requests/s (a) makes, and the simulator's own
request rate — the agent's recorded requests replayed over raw keep-alive sockets, no HTTP
library — which at 0 ms must be well above what (a) asks of it, and at a set latency L close
to the most C connections allow, C / L (a warning says when it is not).
Exit 1 when a target at concurrency 32 is missed (b/a >= 0.8, c/a >= 0.6).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODEL = "sim/balanced"


def start_sim(latency: float, dataset: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """`roibench sim` on a free loopback port (knowing `dataset`'s tasks besides its own);
    returns the process and its base URL."""
    extra = ["--dataset", str(dataset)] if dataset is not None else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "sim", "--port", "0", "--latency", str(latency), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return proc, line.split()[-1]


def load_tasks() -> list[Any]:
    from roibench.config.tasks import load_dataset

    return list(load_dataset(REPO / "datasets/refunds/tasks.jsonl").tasks)


async def bare_loop(
    url: str,
    tasks: list[Any],
    trials: int,
    concurrency: int,
    bodies: list[bytes] | None = None,
) -> float:
    """(a): tasks/s of a plain AsyncOpenAI tool-calling loop. With `bodies` (an unmeasured
    pass), the JSON of every request is kept there, to replay against the simulator alone."""
    import openai
    from roibench.workflows.refunds import (  # pyright: ignore[reportMissingImports]
        RefundsWorkflow,
    )

    wf = RefundsWorkflow()
    tools = wf.env.tool_schemas()
    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    work = iter([t for _ in range(trials) for t in tasks])

    async def worker() -> None:
        for task in work:
            env = wf.new_env(task)
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": wf.policy},
                {"role": "user", "content": task.prompt},
            ]
            for _ in range(12):
                if bodies is not None:
                    request = {"model": MODEL, "messages": messages, "tools": tools}
                    bodies.append(json.dumps(request).encode())
                resp = await client.chat.completions.create(
                    model=MODEL,
                    messages=messages,  # type: ignore[arg-type]
                    tools=tools,  # type: ignore[arg-type]
                )
                msg = resp.choices[0].message
                if not msg.tool_calls:
                    break
                messages.append(msg.model_dump(exclude_none=True))
                for tc in msg.tool_calls:
                    fn = tc.function  # type: ignore[union-attr]
                    result = await env.call(fn.name, fn.arguments)
                    messages.append({"role": "tool", "tool_call_id": tc.id, "content": result})

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await client.close()
    return len(tasks) * trials / elapsed


def suite_file(tmp: Path, url: str, trials: int, concurrency: int) -> Path:
    path = tmp / "bench.toml"
    path.write_text(
        f'name = "bench-throughput"\ntrials = {trials}\nconcurrency = {concurrency}\n'
        f'workflows = ["refunds"]\nagents = ["react"]\n[outcome_pricing]\nprice_usd = 0.99\n'
        f'[[models]]\nname = "{MODEL}"\nprovider = "local"\nmodel = "{MODEL}"\n'
        f'base_url = "{url}"\nconcurrency = {concurrency}\n'
        f"[models.price]\ninput_per_mtok = 0.66\ncache_read_per_mtok = 0.022\n"
        f"output_per_mtok = 1.98\n"
    )
    return path


def pipeline(url: str, trials: int, concurrency: int, traced: bool) -> tuple[float, float]:
    """(b) or (c): tasks/s of the full pipeline — `roibench run`'s orchestrator, from the
    suite file to the last MLflow write — and the share of that time spent logging."""
    import mlflow

    from roibench.run.orchestrator import RunRequest, run_suite

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        mlflow.MlflowClient().search_experiments()  # schema creation is a one-off, not timed
        request = RunRequest(
            suite=suite_file(tmp, url, trials, concurrency),
            out=tmp / "runs",
            preflight=False,
            trace=traced,
            trace_sample=1.0 if traced else 0.0,
        )
        outcome = run_suite(request)
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    if outcome.mlflow is None or outcome.mlflow.error is not None:
        raise RuntimeError(f"MLflow logging failed: {outcome.mlflow}")
    took = outcome.timings_s
    total = sum(took.values())
    return outcome.spec.total_trials / total, took["logging"] / total


async def sim_rate(url: str, concurrency: int, bodies: list[bytes], requests: int) -> float:
    """Requests/s the simulator serves on its own: the agent's recorded requests replayed on
    keep-alive connections by a client that only writes bytes and reads the reply (an HTTP
    library's own overhead would be measured instead of the simulator's)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    path = "/" + url.split("//", 1)[1].split("/", 1)[1].rstrip("/") + "/chat/completions"
    wire = [
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        for body in bodies
    ]
    counter = iter(range(requests))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:
                writer.write(wire[i % len(wire)])
                head = await reader.readuntil(b"\r\n\r\n")
                status = head.split(b" ", 2)[1]
                if status != b"200":
                    raise RuntimeError(f"simulator answered HTTP {status.decode()}")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - t0)


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per task (60 tasks)")
    parser.add_argument("--latencies", default="0,0.2")
    parser.add_argument("--concurrency", default="32,128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny run to check it works")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    if args.quick:
        args.trials, args.rounds, args.latencies, args.concurrency = 1, 1, "0", "8"
    latencies = [float(x) for x in args.latencies.split(",")]
    levels = [int(x) for x in args.concurrency.split(",")]
    tasks = load_tasks()
    ok = True
    print(f"{'latency':>7} {'conc':>5} {'bare/s':>8} {'roibench/s':>10} {'+trace/s':>9} "
          f"{'b/a':>5} {'c/a':>5} {'log %':>6} {'a req/s':>8} {'sim req/s':>9}")  # fmt: skip
    for latency in latencies:
        proc, url = start_sim(latency)
        try:
            pipeline(url, 1, 4, traced=True)  # warm imports and the sim
            bodies: list[bytes] = []  # the agent's requests, for the simulator-alone rate
            asyncio.run(bare_loop(url, tasks, 1, 8, bodies=bodies))
            per_task = len(bodies) / len(tasks)
            for conc in levels:
                a: list[float] = []
                b: list[float] = []
                c: list[float] = []
                log_share: list[float] = []
                for r in range(args.rounds):
                    order = ("a", "b", "c") if r % 2 == 0 else ("c", "b", "a")
                    for kind in order:
                        if kind == "a":
                            a.append(asyncio.run(bare_loop(url, tasks, args.trials, conc)))
                        else:
                            rate, share = pipeline(url, args.trials, conc, traced=kind == "c")
                            (b if kind == "b" else c).append(rate)
                            if kind == "b":
                                log_share.append(share)
                ma, mb, mc = statistics.median(a), statistics.median(b), statistics.median(c)
                # ratios within a round (measured minutes apart at most), then their median:
                # the machine's speed drifts over a long run, and pairing cancels the drift
                ba = statistics.median(y / x for x, y in zip(a, b, strict=True))
                ca = statistics.median(y / x for x, y in zip(a, c, strict=True))
                # enough requests for a second of the simulator's time at its latency bound
                n = 200 if args.quick else max(2000, int(conc / max(latency, 0.01)))
                rate_sim = asyncio.run(sim_rate(url, conc, bodies, n))
                log_pct = 100 * statistics.median(log_share)
                row = f"{latency:>7.2f} {conc:>5} {ma:>8.1f} {mb:>10.1f} {mc:>9.1f} "
                row += f"{ba:>5.2f} {ca:>5.2f} {log_pct:>5.1f}% "
                row += f"{ma * per_task:>8.0f} {rate_sim:>9.0f}"
                print(row)
                # at a set latency the simulator can serve at most conc / latency requests/s
                # by design; it must add little to that, and at 0 ms far outpace (a)
                if latency > 0:
                    bound = conc / latency
                    slow = rate_sim < 0.9 * bound
                else:
                    bound = 2 * ma * per_task
                    slow = rate_sim < bound
                if slow:
                    print(f"  warning: the simulator alone serves {rate_sim:.0f} req/s "
                          f"(bound {bound:.0f}): it may be the bottleneck")  # fmt: skip
                if conc == 32 and (ba < 0.8 or ca < 0.6):
                    ok = False
        finally:
            proc.terminate()
            proc.wait()
    print("targets at concurrency 32: b/a >= 0.80, c/a >= 0.60 —", "met" if ok else "MISSED")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
