"""The benchmarks' pure helpers: percentiles, ratios, parsing tool output, the table."""

import json

import pytest

from bench.ingest_load import parse_wrk_report, top_frames
from bench.kafka_ceiling import parse_perf_summary
from bench.landing import landed_batches
from bench.report import render_table
from bench.stats import percentile, ratio, summary
from streaming.batch_record import BatchRecord

PERF_OUTPUT = """\
95523 records sent, 19104.6 records/sec (8.20 MB/sec), 1069.1 ms avg latency, 1536.0 ms max latency.
200000 records sent, 26392.2 records/sec (11.33 MB/sec), 1369.50 ms avg latency, 2050.00 ms max \
latency, 1353 ms 50th, 1998 ms 95th, 2040 ms 99th, 2048 ms 99.9th.
"""


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 0, 5], 0.0) == 0
    assert percentile([10, 0, 5], 1.0) == 10
    assert percentile(range(1, 101), 0.99) == pytest.approx(99.01)


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_summary_gives_median_and_spread_of_runs():
    assert summary([3.0, 1.0, 2.0]) == {
        "median": 2.0,
        "min": 1.0,
        "max": 3.0,
        "n": 3,
        "runs": [3.0, 1.0, 2.0],
    }


def test_ratio_of_rates_divides_by_the_ceiling_and_of_times_the_other_way():
    assert ratio(250.0, 1000.0) == 0.25
    assert ratio(4.0, 1.0, higher_is_better=False) == 0.25
    assert ratio(None, 10.0) is None
    assert ratio(5.0, 0.0) is None


def test_producer_performance_summary_is_the_last_totals_line():
    assert parse_perf_summary(PERF_OUTPUT) == {
        "events": 200000,
        "events_per_s": 26392.2,
        "p50_ms": 1353.0,
        "p95_ms": 1998.0,
        "p99_ms": 2040.0,
    }


def test_producer_performance_output_without_totals_is_an_error():
    with pytest.raises(ValueError, match="no summary line"):
        parse_perf_summary(PERF_OUTPUT.splitlines()[0])


def test_wrk_report_counts_events_of_good_requests_only():
    report = {
        "wrk": 1,
        "requests": 1000,
        "duration_us": 2_000_000,
        "status_errors": 10,
        "socket_errors": 2,
        "timeouts": 1,
        "p50_us": 4500,
        "p99_us": 12000,
        "mean_us": 5000.0,
    }
    output = "Running 2s test @ http://127.0.0.1:5000\n" + json.dumps(report) + "\n"
    assert parse_wrk_report(output, events_per_request=50) == {
        "requests": 1000,
        "requests_per_s": 500.0,
        "events_per_s": 990 * 50 / 2,
        "p50_ms": 4.5,
        "p99_ms": 12.0,
        "mean_ms": 5.0,
        "errors": 13,
    }


def test_py_spy_stacks_are_summed_per_function_without_process_and_thread():
    collapsed = (
        'process 1:"gunicorn";thread (0x1);handle (gthread.py:10);publish (publisher.py:90) 3\n'
        'process 1:"gunicorn";thread (0x1);handle (gthread.py:10);dumps (json/__init__.py:2) 1\n'
    )
    frames = top_frames(collapsed)
    assert frames["samples"] == 4
    assert frames["inclusive"][0] == ["handle (gthread.py)", 1.0]
    assert frames["self"] == [["publish (publisher.py)", 0.75], ["dumps (__init__.py)", 0.25]]


def test_landed_batches_sum_the_batch_records_only():
    stdout = (
        BatchRecord(batch=0, input_rows=600, batch_ms=1500).to_line()
        + "\n"
        + '{"kind": "something_else", "batch": 0, "input_rows": 600, "batch_ms": 900}\n'
        + "some other line\n"
        + BatchRecord(batch=1, input_rows=400, batch_ms=500).to_line()
        + "\n"
    )
    assert landed_batches(stdout) == {"batches": 2, "events_read": 1000, "batch_seconds": 2.0}


def test_table_shows_ceiling_and_ratio_and_dashes_without_a_ceiling():
    figures = [
        {"stage": "kafka", "figure": "tool", "unit": "events/s", "summary": summary([100.0])},
        {
            "stage": "ingest",
            "figure": "single",
            "unit": "events/s",
            "summary": summary([1000.0, 1500.0, 1200.0]),
            "ceiling": {"name": "no-op", "summary": summary([4000.0])},
            "ratio": 0.3,
        },
    ]
    lines = render_table(figures).splitlines()
    assert lines[0].startswith("| stage | figure | unit | median |")
    assert lines[2] == "| kafka | tool | events/s | 100 | 100 – 100 (n=1) | — | — | — |"
    assert lines[3] == (
        "| ingest | single | events/s | 1,200 | 1,000 – 1,500 (n=3) | no-op | 4,000 | 0.30 |"
    )


def test_doc_keeps_its_text_and_each_stage_from_its_newest_run(tmp_path):
    from bench.__main__ import RESULTS_END, RESULTS_START, write_doc

    doc, kept = tmp_path / "benchmarks.md", tmp_path / "doc.json"
    doc.write_text(f"# Benchmarks\nintro\n{RESULTS_START}\nold table\n{RESULTS_END}\nanalysis\n")

    def results(run_id, stages, value, size="1M"):
        figures = [
            {"stage": stage, "figure": f"{stage} rate, {size}", "unit": "events/s",
             "summary": summary([value])}
            for stage in stages
        ]  # fmt: skip
        return {"date": "2026-11-28", "command": "make bench", "run_id": run_id,
                "machine": {"cores": 2}, "stages": stages, "figures": figures}  # fmt: skip

    write_doc(results("run-1", ["kafka", "ingest"], 100.0), doc, kept)
    write_doc(results("run-2", ["ingest"], 300.0), doc, kept)
    text = doc.read_text()
    assert text.startswith("# Benchmarks\nintro\n")
    assert text.endswith(f"{RESULTS_END}\nanalysis\n")
    assert "old table" not in text
    assert "kafka: 2026-11-28 run `run-1`; ingest: 2026-11-28 run `run-2`" in text
    assert "| kafka | kafka rate, 1M | events/s | 100 |" in text
    assert "| ingest | ingest rate, 1M | events/s | 300 |" in text
    assert "- cores: 2\n" in text
    # A run of another size adds its figures; the stage's earlier size stays, with its run.
    write_doc(results("run-3", ["ingest"], 50.0, size="10M"), doc, kept)
    text = doc.read_text()
    assert "ingest: 2026-11-28 run `run-2`, 2026-11-28 run `run-3`" in text
    assert "| ingest | ingest rate, 1M | events/s | 300 |" in text
    assert "| ingest | ingest rate, 10M | events/s | 50 |" in text


def test_route_cost_times_each_app_and_refuses_a_round_with_a_refused_request():
    from flask import Flask, abort

    from bench.route_cost import fastest_us

    answering, refusing = Flask("answering"), Flask("refusing")
    answering.add_url_rule("/purchase_a_sword", "sword", lambda: "\nSword Purchased!\n")
    refusing.add_url_rule("/purchase_a_sword", "sword", lambda: abort(429))

    found = fastest_us({"answering": lambda: answering}, rounds=2)
    assert set(found) == {"answering"} and found["answering"] > 0
    with pytest.raises(RuntimeError, match="requests refused: 429"):
        fastest_us({"refusing": lambda: refusing}, rounds=1)


def test_worker_threads_are_told_apart_by_their_python_names():
    from bench.ingest_load import thread_kind

    assert thread_kind("MainThread") == "gunicorn's loop"
    assert thread_kind("ThreadPoolExecutor-0_15") == "requests"
    assert thread_kind("kafka-python-producer-1-network-thread") == "Kafka's network thread"
    assert thread_kind("metrics") == "other"


def test_paired_rounds_compare_each_kind_of_thread_round_by_round():
    from bench.ingest_load import Scenario
    from bench.stage_ingest import paired_figures

    def server(rate, cpu, requests_ms, kafka_ms):
        threads = {"requests": requests_ms, "Kafka's network thread": kafka_ms}
        return {
            "requests_per_s": rate,
            "cpu_ms_per_request": cpu,
            "system_ms_per_request": cpu / 4,
            "cpu_ms_per_request_by_thread": threads,
        }

    rounds = [
        {
            "seed": server(900, 0.5, 0.40, 0.08),
            "seed_durable": server(1000, 0.45, 0.30, 0.12),
            "seed_no_metrics": server(950, 0.48, 0.38, 0.08),
        },
        {
            "seed": server(1100, 0.6, 0.50, 0.06),
            "seed_durable": server(1000, 0.55, 0.34, 0.14),
            "seed_no_metrics": server(1000, 0.58, 0.47, 0.06),
        },
    ]
    scenarios = {"seed_no_metrics": Scenario("no metrics", "GET", "/", None, 1)}
    figures = {f["figure"]: f for f in paired_figures(rounds, "seed", "durable", scenarios)}

    assert figures[
        "seed over the durable seed app, requests/s, paired rounds of 4 s (the rounds' ratios)"
    ]["summary"]["runs"] == pytest.approx([0.9, 1.1])
    requests = figures["seed, workers' CPU per request in requests, against the durable seed app"]
    assert requests["summary"]["runs"] == [0.40, 0.50]
    assert requests["ceiling"]["summary"]["runs"] == [0.30, 0.34]
    kafka = figures[
        "seed, workers' CPU per request in Kafka's network thread, against the durable seed app"
    ]
    assert kafka["summary"]["median"] == pytest.approx(0.07)
    # A kind no thread of a round showed counts as no CPU.
    loop = figures[
        "seed, workers' CPU per request in gunicorn's loop, against the durable seed app"
    ]
    assert loop["summary"]["runs"] == [0.0, 0.0]
