"""The priomem command: in-process for behaviour, one real subprocess for the console script."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from priomem.cli import build_parser, main


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PRIOMEM_PATH", str(tmp_path / "store"))
    monkeypatch.setenv("PRIOMEM_EMBEDDER", "hash")
    for name in ("PRIOMEM_URL", "PRIOMEM_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_remember_recall_get_list_forget(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "remember", "Orders ETL failed at 03:00", "--priority", "high", "--tags", "etl,orders", "--json"
    )
    assert code == 0
    memory = json.loads(out)
    assert memory["priority"] == "HIGH" and memory["tags"] == ["etl", "orders"]
    code, out, _ = cli("recall", "orders ETL", "--since", "48h", "--min-priority", "high", "--json")
    assert code == 0 and json.loads(out)["hits"][0]["id"] == memory["id"]
    code, out, _ = cli("recall", "orders ETL")
    assert code == 0 and "Orders ETL failed" in out and "HIGH" in out
    code, out, _ = cli("get", memory["id"])
    assert code == 0 and "Orders ETL failed" in out
    code, out, _ = cli("list", "--json")
    assert [m["id"] for m in json.loads(out)["memories"]] == [memory["id"]]
    code, out, _ = cli("forget", memory["id"], "--dry-run")
    assert code == 0 and "would forget 1" in out
    code, out, _ = cli("forget", memory["id"], "--json")
    assert json.loads(out) == {"count": 1, "ids": [memory["id"]], "dry_run": False}
    code, _, err = cli("get", memory["id"])
    assert code == 1 and "no memory" in err


def test_global_options_go_before_or_after_the_command(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = str(tmp_path / "other")
    assert cli("--path", other, "--namespace", "a", "remember", "one")[0] == 0
    assert cli("remember", "two", "--path", other, "-n", "a")[0] == 0
    _, out, _ = cli("list", "--path", other, "--namespace", "a", "--json")
    assert {m["content"] for m in json.loads(out)["memories"]} == {"one", "two"}
    _, out, _ = cli("--json", "list")  # the default store (PRIOMEM_PATH) is untouched
    assert json.loads(out)["memories"] == []


def test_errors_exit_1_without_traceback(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("recall", "x", "-k", "0")
    assert code == 1 and out == "" and "k: 0 is out of range" in err and "Traceback" not in err
    code, _, err = cli("remember", "x", "--priority", "urgent")
    assert code == 1 and "priority" in err
    code, _, err = cli("forget")
    assert code == 1 and "everything" in err
    code, _, err = cli("remember", "x", "--namespace", "bad/ns")
    assert code == 1 and "namespace" in err


def test_usage_errors_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        cli("frobnicate")
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli("recall")
    assert info.value.code == 2


def test_stats_sweep_and_demo(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("demo", "--json")
    assert code == 0
    demo = json.loads(out)
    assert demo["namespace"] == "demo" and len(demo["results"]) == 3
    window = demo["results"][0]
    assert window["filters"] == {"since": "48h"} and window["hits"]
    code, out, _ = cli("stats", "--json")
    stats = json.loads(out)
    assert stats["namespaces"]["demo"]["count"] == 9 and stats["by_priority"]["CRITICAL"] == 2
    code, out, _ = cli("stats")
    assert "demo: 9 memories" in out
    code, out, _ = cli("sweep", "--json")
    assert json.loads(out) == {"deleted": 0}


def test_metadata_and_stdin(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    code, out, _ = cli("remember", "-", "--meta", "team=data", "--meta", "runs=3", "--json")
    assert code == 0 and json.loads(out)["metadata"] == {"team": "data", "runs": 3}
    code, _, err = cli("remember", "x", "--meta", 'nested={"a": 1}')
    assert code == 1 and "metadata.nested" in err


@pytest.mark.integration
def test_console_script_runs_with_the_real_model(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "priomem"
    env = {**os.environ, "PRIOMEM_PATH": str(tmp_path / "s")}
    env.pop("PRIOMEM_EMBEDDER", None)
    done = subprocess.run([str(exe), "demo"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "SLA with Finance" in done.stdout
    done = subprocess.run(
        [
            str(exe),
            "recall",
            "orders incident",
            "--since",
            "48h",
            "--min-priority",
            "high",
            "-n",
            "demo",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert hits and all(h["priority"] in {"HIGH", "CRITICAL"} for h in hits)


def test_pressure_commands(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli(
            "quota", "--max-memories", "3", "--critical-reserve", "0", "--compliance-reserve", "0", "-n", "q"
        )[0]
        == 0
    )
    code, out, _ = cli("quota", "-n", "q", "--json")
    assert json.loads(out)["max_memories"] == 3
    for i in range(4):
        assert cli("remember", f"debug {i}", "-p", "low", "-n", "q")[0] == 0
    code, out, _ = cli("stats", "-n", "q", "--json")
    assert json.loads(out)["count"] == 3
    code, out, _ = cli("audit", "--action", "evict", "--json")
    assert json.loads(out)["records"][0]["count"] == 1
    dump = tmp_path / "dump.jsonl"
    code, out, _ = cli("export", str(dump), "-n", "q", "--embeddings")
    assert code == 0 and "exported 3" in out
    code, out, _ = cli("--path", str(tmp_path / "copy"), "import", str(dump), "--json")
    assert json.loads(out)["imported"] == 3 and json.loads(out)["reembedded"] == 0
    assert cli("remember", "carol's address", "--meta", "subject=carol", "-n", "people")[0] == 0
    code, _, err = cli("erase", "--subject", "carol")  # not a terminal: refuses without --yes
    assert code == 1 and "--yes" in err
    code, out, _ = cli("erase", "--subject", "carol", "--yes", "--json")
    assert json.loads(out) == {"erased": 1}
    code, out, _ = cli("consolidate", "-n", "q", "--min-similarity", "0.3", "--max-priority", "low", "--json")
    assert code == 0 and len(json.loads(out)["merged"]) == 1


@pytest.mark.integration
def test_ui_command_serves_and_stops(tmp_path: Path) -> None:
    import signal
    import urllib.request

    env = {**os.environ, "PRIOMEM_EMBEDDER": "hash"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "priomem", "--path", str(tmp_path / "s"), "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split("serving ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and "priomem" in page.read().decode().lower()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    refused = subprocess.run(
        [sys.executable, "-m", "priomem", "--path", str(tmp_path / "s"), "ui", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 1 and "without bearer tokens" in refused.stderr


def test_thread_compact_and_check(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("remember", "Can we move the deploy to Tuesday?", "--thread", "chat-7", "--json")
    assert code == 0 and json.loads(out)["thread"] == "chat-7"
    code, out, _ = cli("remember", "Yes, Tuesday 10:00 works", "--thread", "chat-7", "--json")
    reply = json.loads(out)
    code, out, _ = cli("forget", reply["id"])
    assert code == 0
    code, out, _ = cli("compact", "--json")
    assert code == 0 and json.loads(out) == {"rebuilt_namespaces": []}  # closing compacted already
    code, out, _ = cli("check")
    assert code == 0 and out.strip() == "default: ok"


# -- a newcomer's daily use (issue 15, case 4) --------------------------------------------
@pytest.mark.integration
def test_a_closed_pipe_and_export_to_import_through_pipes(tmp_path: Path) -> None:
    env = {**os.environ, "PRIOMEM_PATH": str(tmp_path / "a"), "PRIOMEM_EMBEDDER": "hash"}
    env.pop("PRIOMEM_URL", None)
    priomem = [sys.executable, "-m", "priomem"]
    items = json.dumps([{"content": f"orders note {i} " + "x" * 200} for i in range(300)])
    seed = "import json,sys; from priomem import MemoryEngine; MemoryEngine().remember_many(json.loads(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", seed, items], env=env, check=True, timeout=120)
    for command in (["--json", "list", "--limit", "300"], ["-q", "export", "-"]):
        head = subprocess.Popen([*priomem, *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert head.stdout is not None
        head.stdout.read(100)
        head.stdout.close()
        assert head.wait(timeout=120) in (0, 141)
        assert head.stderr is not None and b"Traceback" not in head.stderr.read()
    exported = subprocess.run([*priomem, "--json", "export", "-"], env=env, capture_output=True, timeout=120)
    assert exported.returncode == 0 and not exported.stdout.rstrip().endswith(b"null")
    into = {**env, "PRIOMEM_PATH": str(tmp_path / "b")}
    imported = subprocess.run(
        [*priomem, "--json", "import", "-"], env=into, input=exported.stdout, capture_output=True, timeout=120
    )
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == 300
    # stderr is not a terminal here: progress comes as lines, never tqdm's \r redraws (case 6)
    assert b"\r" not in imported.stderr and b"priomem: import: 300 memories, done" in imported.stderr


def test_cli_messages_name_the_flags(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("forget")
    assert code == 1 and "--everything" in err
    code, _, err = cli("get", "NOPE")
    assert code == 1 and "no memory 'NOPE'" in err
    code, _, err = cli("erase", "--all-namespaces", "-n", "x", "--yes")
    assert code == 1 and "--all-namespaces needs --subject" in err
    help_text = build_parser()._subparsers._group_actions[0].choices["forget"].format_help()  # type: ignore[union-attr]
    assert "carry all these comma-separated tags" in help_text and "at most this important" in help_text


def test_version_and_doctor(cli, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("priomem ")
    cli("remember", "x")
    code, out, _ = cli("doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["model"] == "hash-embedder-384" and report["namespaces"] == 1
    assert report["versions"]["chromadb"] and report["embed_backend"] == "auto"
    code, out, _ = cli("doctor")
    assert code == 0 and "store:" in out and "backend auto" in out


def test_doctor_never_creates_a_store(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "typo" / "store"
    code, out, _ = cli("--path", str(missing), "doctor", "--json")
    assert code == 0 and "no store there yet" in json.loads(out)["store_error"]
    assert not missing.exists() and not missing.parent.exists()


def test_long_operations_say_what_they_do(cli) -> None:  # type: ignore[no-untyped-def]
    # Off a terminal (here), progress comes as lines: consolidation and the compaction on close.
    for i in range(6):
        cli("remember", f"the orders ETL failed at night again, attempt {i}")
    code, out, err = cli("consolidate", "--min-similarity", "0.5")
    assert code == 0 and "merged" in out
    assert "priomem: consolidate: grouping 6 memories of 'default'" in err
    assert "priomem: consolidate: " in err and "groups, done" in err and "\r" not in err
    assert (
        "priomem: compacting: rebuilding 1 of 1 (shared collection pmshared-" in err and ": default)" in err
    )  # the deletions made real on close
    assert err.count("consolidate: grouping") == 1  # handlers do not pile up run after run
    for i in range(3):
        cli("remember", f"the billing job was slow on Monday, run {i}")
    code, out, err = cli("-q", "consolidate", "--min-similarity", "0.5")
    assert code == 0 and "merged 1 groups" in out and err == ""
    steps = logging.getLogger("priomem.progress")  # left as a library finds it
    assert steps.propagate and steps.level == logging.NOTSET and not steps.handlers


def test_consolidation_without_a_stderr_merges_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by review: with stderr closed (2>&-, pythonw) the progress bar failed between the
    # merged memory's write and the originals' deletion, leaving both.
    from priomem import HashEmbedder, MemoryEngine

    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64)) as engine:
        engine.remember("disk full on node 7", priority="low")
        engine.remember("Disk full on node 7!", priority="low")
        monkeypatch.setattr(sys, "stderr", None)
        merged = engine.consolidate(window="1d", min_similarity=0.5, progress=True)
        monkeypatch.undo()
        assert len(merged) == 1 and [m.id for m in engine.list()] == [merged[0].memory.id]
