"""The ``priomem`` command line: remember, recall, get, list, forget, stats, sweep, demo,
lineage, export, import, consolidate, erase, quota, audit, compact, purge, check, ui.

Exit codes: 0 success, 1 error (message on stderr, no traceback), 2 usage error.
Global options (``--path``, ``--url``, ``--namespace``, ``--json``) go before or after
the command. ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from priomem import __version__
from priomem._engine import MemoryEngine
from priomem._errors import InvalidInputError, NotFoundError, PriomemError, StoreError
from priomem._models import Memory, RecallHit
from priomem._settings import Settings

__all__ = ["build_parser", "main"]

Handler = Callable[[MemoryEngine, argparse.Namespace], Any]


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--path",
        default=default,
        help="embedded store folder (env PRIOMEM_PATH; default: per-user data folder)",
    )
    where.add_argument("--url", default=default, help="Chroma server, http://host:port (env PRIOMEM_URL)")
    parser.add_argument(
        "--namespace", "-n", default=default, help="namespace (env PRIOMEM_NAMESPACE; default 'default')"
    )
    parser.add_argument("--json", action="store_true", default=default, help="print one JSON document")
    parser.add_argument("--quiet", "-q", action="store_true", default=default, help="no progress output")


def _tags(value: str) -> list[str]:
    return [t for t in (part.strip() for part in value.split(",")) if t]


def _metadata(values: Sequence[str] | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in values or ():
        key, sep, raw = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--meta expects KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        result[key.strip()] = value
    return result


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="priomem",
        description="Long-term memory for LLM agents that knows what matters.",
        epilog="Times take ISO 8601 or relative forms such as 48h, 7d, 2w. Priorities: low, medium, high, critical.",
    )
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"priomem {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help_text, description=help_text)

    p = add("remember", "store a memory")
    p.add_argument("content", help="the text to remember ('-' reads stdin)")
    p.add_argument("--priority", "-p", default="medium", help="low, medium (default), high, critical")
    p.add_argument("--tags", "-t", type=_tags, default=[], help="comma-separated tags")
    p.add_argument(
        "--meta", action="append", metavar="KEY=VALUE", help="metadata (repeatable; JSON values allowed)"
    )
    p.add_argument("--ttl", help="forget after this long, e.g. 7d")
    p.add_argument("--created-at", help="when it happened (default now)")
    p.add_argument("--refs", type=_tags, default=[], help="comma-separated ids of related memories")
    p.add_argument("--thread", help="the conversation this is a turn of (recall reads turns in context)")
    p.add_argument(
        "--reads", type=_tags, default=[], help="comma-separated datasets it read (raw.orders,s3://...)"
    )
    p.add_argument("--writes", type=_tags, default=[], help="comma-separated datasets it wrote")

    p = add("recall", "find the memories that best answer a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="how many (default 5)")
    p.add_argument("--tags", "-t", type=_tags, help="only memories with all these tags")
    p.add_argument("--lineage", "-l", type=_tags, help="only memories that read or wrote all these datasets")
    p.add_argument("--min-priority", help="only memories at least this important")
    p.add_argument("--since", help="created since, e.g. 48h or 2026-05-01")
    p.add_argument("--until", help="created until")

    p = add("get", "show one memory")
    p.add_argument("id")

    p = add("list", "list memories, newest first")
    p.add_argument("--tags", "-t", type=_tags)
    p.add_argument("--lineage", "-l", type=_tags, help="only memories that read or wrote all these datasets")
    p.add_argument("--min-priority")
    p.add_argument("--max-priority")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)

    p = add("forget", "delete memories by id or by filter")
    p.add_argument("ids", nargs="*", help="ids to forget")
    p.add_argument("--tags", "-t", type=_tags, help="memories that carry all these comma-separated tags")
    p.add_argument("--lineage", "-l", type=_tags, help="memories that read or wrote all these datasets")
    p.add_argument("--before", help="created before, e.g. 30d or 2026-01-01")
    p.add_argument("--max-priority", help="only memories at most this important (low, medium, high)")
    p.add_argument("--everything", action="store_true", help="empty the namespace")
    p.add_argument("--dry-run", action="store_true", help="only show what would be forgotten")

    add("doctor", "what a bug report needs: versions, store, model and backend, namespaces")

    p = add("lineage", "where a dataset comes from and what depends on it")
    p.add_argument("name", help="a dataset, table or job: raw.orders, s3://lake/orders")
    p.add_argument("--depth", type=int, default=3, help="hops each way (1-10, default 3)")

    p = add("export", "write memories to a JSON Lines file")
    p.add_argument("dest", help="file to write ('-' for stdout)")
    p.add_argument(
        "--all-namespaces", action="store_true", help="every namespace (default: only --namespace, if given)"
    )
    p.add_argument(
        "--embeddings", action="store_true", help="include embeddings (faster re-import with the same model)"
    )

    p = add("import", "restore memories from an export")
    p.add_argument("src", help="file to read ('-' for stdin)")
    p.add_argument("--reembed", choices=["auto", "always", "never"], default="auto")
    p.add_argument("--into", help="put every memory into this namespace")

    p = add("consolidate", "merge similar recent memories of a namespace")
    p.add_argument("--window", default="6h", help="look at memories created in this span (default 6h)")
    p.add_argument("--min-similarity", type=float, default=0.85)
    p.add_argument("--max-priority", default="medium", help="highest priority to merge (never critical)")
    p.add_argument("--dry-run", action="store_true")

    p = add("erase", "remove a data subject's memories everywhere, with an audit record")
    p.add_argument("--subject", help="metadata 'subject' value to erase")
    p.add_argument(
        "--all-namespaces", action="store_true", help="with --subject: search every namespace (default)"
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = add("quota", "show or set a namespace's quota ('*' for the whole store)")
    p.add_argument("--max-memories", type=int)
    p.add_argument("--max-bytes", type=int)
    p.add_argument("--critical-reserve", type=float, help="share kept for CRITICAL memories (0.15)")
    p.add_argument(
        "--compliance-reserve",
        type=float,
        help="share kept for compliance records: classified, tagged compliance, or with lineage (0.05)",
    )
    p.add_argument("--store", action="store_true", help="the store-wide quota instead of the namespace's")

    p = add("audit", "show the audit log of deletions")
    p.add_argument("--action", choices=["forget", "evict", "sweep", "consolidate", "erase"])
    p.add_argument("--limit", type=int, default=20)

    p = add("ui", "browse, search and curate memories in a web page (default http://127.0.0.1:8766/)")
    p.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1; others need --tokens-file)"
    )
    p.add_argument("--port", type=int, default=8766, help="port (default 8766; 0 picks a free one)")
    p.add_argument("--read-only", action="store_true", help="hide and refuse every action")
    p.add_argument(
        "--tokens-file", help="bearer tokens, one 'TOKEN = namespace, ...' per line (as priomem-mcp)"
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="extra Host name to accept, e.g. memory.lan (repeatable)",
    )

    p = add(
        "purge",
        "make deletions real on disk in a stopped Chroma server's data folder (completes erasure)",
    )
    add("compact", "make every deletion real on disk now (an embedded store also does it on close)")
    p = add("check", "find namespaces Chroma cannot read; --repair rebuilds them from what it still holds")
    p.add_argument("--repair", action="store_true", help="repair damaged namespaces (embedded store)")

    add("stats", "counts by priority, sizes, ages, quota use, what expires soon")
    add("sweep", "delete expired memories now")
    add("demo", "remember a small data-platform history and recall from it")
    return parser


# -- output -----------------------------------------------------------------------------
def _line(text: str, width: int = 72) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(memories: Sequence[Memory], scores: Sequence[float] | None = None) -> str:
    if not memories:
        return "(no memories)"
    rows = []
    for i, memory in enumerate(memories):
        score = f"{scores[i]:.3f}  " if scores is not None else ""
        tags = f" [{', '.join(memory.tags)}]" if memory.tags else ""
        rows.append(
            f"{score}{memory.priority.name:<8}  {memory.created_at:%Y-%m-%d %H:%M}  {memory.id}  {_line(memory.content)}{tags}"
        )
    header = (
        "score  " if scores is not None else ""
    ) + f"{'priority':<8}  {'created (UTC)':<16}  {'id':<26}  content"
    return "\n".join([header, *rows])


def _show(memory: Memory) -> str:
    data = memory.to_dict()
    return "\n".join(f"{key:>17}: {value}" for key, value in data.items())


# -- commands ---------------------------------------------------------------------------
def _remember(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    content = sys.stdin.read() if args.content == "-" else args.content
    memory = engine.remember(
        content,
        priority=args.priority,
        tags=args.tags,
        metadata=_metadata(args.meta),
        ttl=args.ttl,
        created_at=args.created_at,
        refs=args.refs,
        namespace=args.namespace,
        thread=args.thread,
        reads=args.reads,
        writes=args.writes,
    )
    if args.json:
        return memory.to_dict()
    return f"remembered {memory.id} ({memory.priority.name}) in {memory.namespace!r}"


def _recall(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    hits: list[RecallHit] = engine.recall(
        args.query,
        k=args.k,
        tags=args.tags,
        lineage=args.lineage,
        min_priority=args.min_priority,
        since=args.since,
        until=args.until,
        namespace=args.namespace,
    )
    if args.json:
        return {"query": args.query, "hits": [h.to_dict() for h in hits]}
    return _table([h.memory for h in hits], [h.score for h in hits])


def _get(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    memory = engine.get(args.id, namespace=args.namespace)
    if memory is None:
        raise NotFoundError(
            f"no memory {args.id!r} in namespace {args.namespace or engine.settings.default_namespace!r}; "
            "check the id with 'priomem list'.",
            field="id",
        )
    return memory.to_dict() if args.json else _show(memory)


def _list(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    memories = engine.list(
        tags=args.tags,
        lineage=args.lineage,
        min_priority=args.min_priority,
        max_priority=args.max_priority,
        since=args.since,
        until=args.until,
        limit=args.limit,
        offset=args.offset,
        namespace=args.namespace,
    )
    if args.json:
        return {"memories": [m.to_dict() for m in memories]}
    return _table(memories)


def _forget(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    report = engine.forget_report(
        args.ids or None,
        tags=args.tags,
        lineage=args.lineage,
        before=args.before,
        max_priority=args.max_priority,
        everything=args.everything,
        dry_run=args.dry_run,
        namespace=args.namespace,
    )
    if args.json:
        return {"count": report.count, "ids": list(report.ids), "dry_run": report.dry_run}
    verb = "would forget" if report.dry_run else "forgot"
    listed = "".join(f"\n  {i}" for i in report.ids[:50]) + ("\n  …" if report.count > 50 else "")
    return f"{verb} {report.count} memories{listed}"


def _lineage(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    found = engine.lineage(args.name, namespace=args.namespace, depth=args.depth)
    if args.json:
        return found.to_dict()

    def side(title: str, steps: Sequence[Any], datasets: Sequence[str]) -> list[str]:
        if not steps:
            return [f"{title}: nothing recorded"]
        lines = [f"{title} ({', '.join(datasets) or 'no further datasets'}):"]
        for step in steps:
            m = step.memory
            flow = f"reads {', '.join(m.reads) or '-'}; writes {', '.join(m.writes) or '-'}"
            lines.append(f"  {step.depth}  {m.priority.name:<8}  {m.id}  {_line(m.content)}  [{flow}]")
        return lines

    lines = [f"lineage of {found.name} in {found.namespace!r}"]
    lines += side("upstream", found.upstream, found.upstream_datasets)
    lines += side("downstream", found.downstream, found.downstream_datasets)
    if found.truncated:
        lines.append(f"(more lies beyond {args.depth} hops: raise --depth)")
    return "\n".join(lines)


def _stats(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    stats = engine.stats(args.namespace) if args.namespace else engine.stats()
    if args.json:
        return stats
    per = {args.namespace: stats} if args.namespace else stats["namespaces"]
    lines = [f"store: {engine.location}"]
    for ns, s in per.items():
        counts = "  ".join(f"{k.lower()} {v}" for k, v in s["by_priority"].items())
        limits = [f"{s['count']}/{s['quota']['max_memories']} memories"] if s["quota"]["max_memories"] else []
        limits += [f"{s['bytes']:,}/{s['quota']['max_bytes']:,} bytes"] if s["quota"]["max_bytes"] else []
        used = (
            f", quota {' and '.join(limits)} ({s['quota_used']:.0%}{', guaranteed' if s['guaranteed'] else ''})"
            if limits
            else ""
        )
        lines.append(
            f"{ns}: {s['count']} memories ({counts}){used}, {s['bytes']:,} bytes, oldest {s['oldest']}, "
            f"newest {s['newest']}, expiring within 7 days {s['expiring_within_7d']}, expired awaiting sweep {s['expired']}"
        )
        lineage = s["lineage"]
        lines.append(
            "  classification: "
            + ", ".join(f"{k} {v}" for k, v in s["by_classification"].items())
            + "; stage: "
            + ", ".join(f"{k} {v}" for k, v in s["by_stage"].items())
            + f"; compliance records {s['compliance_records']}; lineage: {lineage['memories']} memories, "
            f"{lineage['datasets']} datasets ({lineage['reading']} read, {lineage['writing']} write)"
        )
    if len(lines) == 1:
        lines.append("(empty)")
    return "\n".join(lines)


def _sweep(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    count = engine.sweep()
    return {"deleted": count} if args.json else f"deleted {count} expired memories"


def _export(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    namespace = None if args.all_namespaces else args.namespace
    if args.dest == "-":
        count = engine.export(sys.stdout, namespace=namespace, include_embeddings=args.embeddings)
        return None
    count = engine.export(
        args.dest, namespace=namespace, include_embeddings=args.embeddings, progress=not args.quiet
    )
    return (
        {"exported": count, "dest": args.dest} if args.json else f"exported {count} memories to {args.dest}"
    )


def _import(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    src = sys.stdin if args.src == "-" else args.src
    report = engine.import_(src, reembed=args.reembed, namespace=args.into, progress=not args.quiet)
    if args.json:
        return {
            "imported": report.count,
            "reembedded": report.reembedded,
            "namespaces": list(report.namespaces),
            "source_version": report.source_version,
            "refused": list(report.refused),
            "evicted": list(report.evicted),
        }
    text = f"imported {report.count} memories into {', '.join(report.namespaces) or '-'} (re-embedded {report.reembedded})"
    if report.evicted:
        text += f"; evicted {len(report.evicted)} to make room"
    if report.refused:
        text += (
            f"; {len(report.refused)} not stored, their quota is full (raise it with 'priomem quota'): "
            + ", ".join(report.refused[:10])
            + (" ..." if len(report.refused) > 10 else "")
        )
    return text


def _consolidate(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    results = engine.consolidate(
        args.namespace,
        window=args.window,
        min_similarity=args.min_similarity,
        max_priority=args.max_priority,
        dry_run=args.dry_run,
        progress=not args.quiet,
    )
    if args.json:
        return {
            "dry_run": args.dry_run,
            "merged": [{"memory": c.memory.to_dict(), "from": list(c.merged_ids)} for c in results],
        }
    verb = "would merge" if args.dry_run else "merged"
    lines = [f"{verb} {len(results)} groups"]
    lines += [f"  {len(c.merged_ids)} -> {_line(c.memory.content)}" for c in results]
    return "\n".join(lines)


def _erase(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    if not args.subject and not args.namespace:
        raise InvalidInputError("erase needs --subject, --namespace, or both.")
    if args.all_namespaces:
        if not args.subject:
            raise InvalidInputError(
                "erase --all-namespaces needs --subject (whose memories to erase everywhere)."
            )
        args.namespace = None
    what = f"subject {args.subject!r}" if args.subject else f"the whole namespace {args.namespace!r}"
    if args.subject and args.namespace:
        what += f" in namespace {args.namespace!r}"
    if not args.yes:
        if not sys.stdin.isatty():
            raise PriomemError(f"erase deletes every memory of {what} for good; add --yes to confirm.")
        answer = input(f"Erase every memory of {what}? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            return "nothing erased"
    count = engine.erase(namespace=args.namespace, subject=args.subject)
    return (
        {"erased": count}
        if args.json
        else f"erased {count} memories of {what} (audit log: priomem audit --action erase)"
    )


def _quota(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    target = "*" if args.store else args.namespace
    names = ("max_memories", "max_bytes", "critical_reserve", "compliance_reserve")
    if any(getattr(args, name) is not None for name in names):
        current = engine.get_quota(target)
        quota = engine.set_quota(
            target,
            **{
                name: getattr(args, name) if getattr(args, name) is not None else getattr(current, name)
                for name in names
            },
        )
    else:
        quota = engine.get_quota(target)
    label = "store" if target == "*" else repr(target or engine.settings.default_namespace)
    if args.json:
        return {"scope": label, **quota.to_dict()}
    return (
        f"quota of {label}: max_memories {quota.max_memories or 'unlimited'}, max_bytes {quota.max_bytes or 'unlimited'}, "
        f"critical reserve {quota.critical_reserve:.0%}, compliance reserve {quota.compliance_reserve:.0%}"
    )


def _audit(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    records = engine.audit_log(namespace=args.namespace, action=args.action, limit=args.limit)
    if args.json:
        return {"records": [r.to_dict() for r in records]}
    if not records:
        return "(no audit records)"
    return "\n".join(
        f"{r.at:%Y-%m-%d %H:%M:%S}  {r.action:<11} {r.namespace:<20} {r.count:>6}  {json.dumps(dict(r.selector))}"
        for r in records
    )


def _doctor(settings: Settings, args: argparse.Namespace) -> Any:
    """Versions, the store, the model and its backend; works when the store does not open."""
    import platform
    from importlib import metadata

    from priomem._onnx import MANIFEST, cache_dir

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    packages = ["priomem", "chromadb", "onnxruntime", "tokenizers", "torch", "sentence-transformers", "mcp"]
    export = cache_dir() / MANIFEST
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: version(name) for name in packages},
        "store": args.url or settings.url or str(Path(args.path) if args.path else settings.resolved_path()),
        "embedder": settings.embedder,
        "embed_backend": settings.embed_backend,
        "onnx_export": str(export.with_name(export.stem + ".onnx")) if export.exists() else None,
    }
    embedded = not (args.url or settings.url)
    if embedded and not Path(report["store"]).exists():  # a diagnosis never creates a store
        report["store_error"] = "no store there yet (it is made on the first write)"
    else:
        try:
            with MemoryEngine(path=args.path, url=args.url, settings=settings) as engine:
                report["model"] = engine.embedder.name
                report["namespaces"] = len(engine.namespaces())
        except PriomemError as exc:
            report["store_error"] = exc.message
    if args.json:
        return report
    lines = [f"priomem {report['versions']['priomem']} on Python {report['python']} ({report['platform']})"]
    lines += [
        f"  {name}: {v or 'not installed'}" for name, v in report["versions"].items() if name != "priomem"
    ]
    lines.append(f"store: {report['store']}")
    if "store_error" in report:
        lines.append(f"  cannot open it: {report['store_error']}")
    else:
        lines.append(f"  model {report['model']}, {report['namespaces']} namespaces")
    backend = settings.embed_backend
    onnx = report["onnx_export"] or "not exported yet (made in the background on first use)"
    lines.append(f"embedder: {settings.embedder}, backend {backend}; ONNX export: {onnx}")
    return "\n".join(lines)


def _purge(settings: Settings, args: argparse.Namespace) -> Any:
    from priomem._folders import purge_folder

    folder = Path(args.path) if args.path else settings.resolved_path()
    rebuilt = purge_folder(folder, everything=True)
    return (
        {"rebuilt_namespaces": rebuilt}
        if args.json
        else f"purged deleted records from {folder} ({len(rebuilt)} namespaces rebuilt)"
    )


def _check(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    found = engine.check(repair=args.repair)
    damaged = [c for c in found if c.status == "damaged"]
    if damaged:
        hint = "" if args.repair else " Run 'priomem check --repair' (stop other users of the store first)."
        raise StoreError(
            "; ".join(f"namespace {c.namespace!r} is damaged ({c.error})" for c in damaged) + "." + hint
        )
    if args.json:
        return [c.to_dict() for c in found]
    lines = [
        f"{c.namespace}: {c.status}"
        + (f", {c.recovered} recovered ({c.reembedded} re-embedded), {len(c.lost)} lost: {', '.join(c.lost)}"
           if c.status == "repaired" else "")
        for c in found
    ]  # fmt: skip
    return "\n".join(lines) if lines else "(no namespaces)"


def _compact(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    if engine.location.startswith(("http://", "https://")):
        raise InvalidInputError(
            "compact works on an embedded store; for a Chroma server, stop it and run "
            "'priomem purge --path <its data folder>'.",
            field="url",
        )
    rebuilt = engine.compact()
    return {"rebuilt_namespaces": rebuilt} if args.json else f"compacted ({len(rebuilt)} namespaces rebuilt)"


def _ui(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    from pathlib import Path

    try:
        from priomem.serving import load_tokens
        from priomem.ui import run_ui
    except ImportError as exc:  # names the extra to install (priomem._extras)
        raise PriomemError(str(exc)) from None
    grants = load_tokens(file=Path(args.tokens_file).expanduser()) if args.tokens_file else None

    def announce(url: str) -> None:
        mode = "read-only " if args.read_only else ""
        print(
            f"priomem ui: serving {url} {mode}(Ctrl+C stops it)",
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )

    try:
        run_ui(
            engine,
            host=args.host,
            port=args.port,
            read_only=args.read_only,
            grants=grants,
            allowed_hosts=args.allowed_host,
            log_level=engine.settings.log_level.lower(),
            announce=announce,
        )
    except ImportError as exc:
        raise PriomemError(str(exc)) from None
    return {"stopped": True} if args.json else "priomem ui: stopped"


def _demo(engine: MemoryEngine, args: argparse.Namespace) -> Any:
    from priomem._demo import run_demo

    return run_demo(engine, namespace=args.namespace or "demo", as_json=bool(args.json))


COMMANDS: dict[str, Handler] = {
    "remember": _remember,
    "recall": _recall,
    "get": _get,
    "list": _list,
    "forget": _forget,
    "lineage": _lineage,
    "stats": _stats,
    "sweep": _sweep,
    "demo": _demo,
    "export": _export,
    "import": _import,
    "consolidate": _consolidate,
    "erase": _erase,
    "quota": _quota,
    "audit": _audit,
    "ui": _ui,
    "compact": _compact,
    "check": _check,
}


class _ProgressHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Progress lines to whatever ``sys.stderr`` is when they are written."""

    def emit(self, record: logging.LogRecord) -> None:
        # Assigned, not setStream(): that flushes the previous stream, which may be closed.
        self.stream = sys.stderr
        super().emit(record)


def _show_progress(on: bool) -> None:
    """Slow steps (the model loading, long imports, consolidation, compaction) say what they
    do on stderr, unless ``-q``; called once per run, so handlers never pile up."""
    steps = logging.getLogger("priomem.progress")
    for old in [h for h in steps.handlers if isinstance(h, _ProgressHandler)]:
        steps.removeHandler(old)
    # Off: the logger is left as a library finds it (its records reach the root's handlers).
    steps.setLevel(logging.NOTSET)
    steps.propagate = True
    if on:
        handler = _ProgressHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("priomem: %(message)s"))
        steps.addHandler(handler)
        steps.setLevel(logging.INFO)
        steps.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``priomem`` command; returns the exit code."""
    try:
        return _main(argv)
    finally:
        _show_progress(False)  # a program calling main() keeps no handler of ours


def _main(argv: Sequence[str] | None = None) -> int:
    """``main`` without the clean-up."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("path", "url", "namespace", "json", "quiet"):
        if not hasattr(args, name):
            setattr(args, name, None)
    try:
        settings = Settings.from_env(default_namespace=args.namespace)
        logging.basicConfig(
            level=settings.log_level, stream=sys.stderr, format="priomem: %(levelname)s: %(message)s"
        )
        _show_progress(not args.quiet)
        if args.command == "purge":
            result = _purge(settings, args)
        elif args.command == "doctor":
            result = _doctor(settings, args)
        else:
            with MemoryEngine(path=args.path, url=args.url, settings=settings) as engine:
                result = COMMANDS[args.command](engine, args)
    except PriomemError as exc:
        print(f"priomem: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("priomem: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # while a command streamed to stdout (export -)
        return _pipe_closed()
    except Exception as exc:  # the CLI reports, never dumps a traceback on users
        print(
            f"priomem: unexpected error: {type(exc).__name__}: {exc} (set PRIOMEM_LOG_LEVEL=DEBUG for details)",
            file=sys.stderr,
        )
        logging.getLogger("priomem").debug("traceback", exc_info=True)
        return 1
    try:
        if result is None:
            pass  # the command wrote its own output (export to stdout)
        elif args.json:
            print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        else:
            print(result)
        sys.stdout.flush()
    except BrokenPipeError:
        return _pipe_closed()
    return 0


def _pipe_closed() -> int:
    """The reader of stdout went away (``priomem ... | head``): stop quietly, as Unix tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
    return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
