"""The `stepbot` command: run the server, check a scenario, print the schema, and helpers."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from bot.config import SANDBOX_CHANNEL_SECRET, ConfigError, Settings
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.crm.csv_io import ImportReport
    from bot.crm.service import Crm
    from bot.scenario import Scenario

T = TypeVar("T")

SHUTDOWN_TIMEOUT_S = 30.0
LISTEN_BACKLOG = 1024  # bursts of webhook connections must not overflow into SYN retries


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"stepbot: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.scenario import ScenarioError

    settings = _settings()
    setup_logging(settings.log_format)
    try:
        app = create_app(settings)
    except ScenarioError as exc:
        print(f"stepbot: the scenario file has errors:\n{exc}", file=sys.stderr)
        return 1
    mode = "sandbox mode (built-in LINE stand-in)" if settings.sandbox else "LINE mode"

    def announce(_: object) -> None:
        print(f"stepbot is running in {mode}, scenario {settings.scenario_path}", flush=True)
        if settings.sandbox:
            print(f"Open the chat simulator: {settings.base_url}/sandbox", flush=True)
        else:
            print(f"Webhook URL: {settings.base_url}/callback", flush=True)

    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        print=announce,
        access_log=None,
        backlog=LISTEN_BACKLOG,
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bot.scenario import ScenarioError, load_scenario, summarize

    try:
        scenario = load_scenario(args.file)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        count = len(exc.issues)
        print(f"{count} error{'s' if count != 1 else ''} in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK — {summarize(scenario)}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from bot.scenario import scenario_json_schema

    print(json.dumps(scenario_json_schema(), ensure_ascii=False, indent=2))
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    """Manage admins from the server's shell (the first owner, or a locked-out account)."""
    from bot.crm.admins import AdminError, add_admin, remove_admin
    from bot.db.models import Admin
    from bot.db.runtime import close_database, open_database

    settings = _settings()

    async def run() -> int:
        ctx = await open_database(settings.database_url)
        try:
            if args.action == "add":
                admin = await add_admin(args.user_id, args.role)
                print(f"{admin.line_user_id} is now {admin.role}")
            elif args.action == "remove":
                if not await remove_admin(args.user_id):
                    print(f"{args.user_id} is not an admin", file=sys.stderr)
                    return 1
                print(f"{args.user_id} is no longer an admin")
            else:
                for admin in await Admin.all().order_by("id"):
                    print(f"{admin.line_user_id}\t{admin.role}")
            return 0
        except AdminError as exc:
            print(f"stepbot admin: {exc}", file=sys.stderr)
            return 2
        finally:
            await close_database(ctx)

    return asyncio.run(run())


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.db.runtime import apply_migrations

    settings = _settings()
    asyncio.run(apply_migrations(settings.database_url))
    print(f"database is up to date: {settings.database_url.split('@')[-1]}")
    return 0


def _load_scenario_or_exit(settings: Settings) -> Scenario:
    from bot.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(settings.scenario_path)
    except ScenarioError as exc:
        print(f"stepbot: the scenario file has errors:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _with_crm(
    settings: Settings, scenario: Scenario, work: Callable[[Crm], Awaitable[T]]
) -> T:
    """Open the database (migrating it), run `work` with the CRM, close the database."""
    from bot.crm.service import Crm
    from bot.db.runtime import close_database, open_database

    ctx = await open_database(settings.database_url)
    try:
        return await work(Crm(scenario))
    finally:
        await close_database(ctx)


def cmd_import(args: argparse.Namespace) -> int:
    """Import friends from a CSV file: every row or, if any row is rejected, none."""
    from tortoise.exceptions import IntegrityError, OperationalError

    from bot.crm.csv_io import import_friends

    settings = _settings()
    scenario = _load_scenario_or_exit(settings)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"stepbot: {args.file} を読めません: {exc.strerror or exc}", file=sys.stderr)
        return 2

    async def work(crm: Crm) -> ImportReport:
        return await import_friends(data, crm, dry_run=args.dry_run, actor=args.actor)

    try:
        report = asyncio.run(_with_crm(settings, scenario, work))
    except (IntegrityError, OperationalError) as exc:
        print(
            "stepbot: 書き込み中に他の処理と衝突しました。何も書き込んでいません。"
            f"もう一度実行してください (database conflict, rolled back: {exc})",
            file=sys.stderr,
        )
        return 1
    for problem in report.problems():
        print(f"{args.file}: {problem}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def _condition_or_exit(text: str) -> Any:
    """A --where condition written as YAML or JSON (JSON is YAML), validated."""
    import yaml
    from pydantic import ValidationError

    from bot.scenario.segment import validate_condition

    try:
        return validate_condition(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        print(f"stepbot: --where の条件を読めません (invalid YAML/JSON): {exc}", file=sys.stderr)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "(condition)"
            print(f"stepbot: --where {where}: {error['msg']}", file=sys.stderr)
    raise SystemExit(2)


def _write_output(data: bytes, output: str | None) -> None:
    """To the named file (saying so on stderr), or to stdout for `-` or nothing."""
    if output and output != "-":
        Path(output).write_bytes(data)
        print(f"書き出しました: {output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def cmd_stats(args: argparse.Namespace) -> int:
    """Print what the database recorded about deliveries, taps, links and A/B tests."""
    from bot.automation.report import as_csv, as_text, delivery_report
    from bot.integrations.route_stats import route_report

    settings = _settings()
    scenario = _load_scenario_or_exit(settings)

    async def work(crm: Crm) -> bytes:
        rows = await delivery_report(crm.scenario) + await route_report(crm.scenario)
        return as_csv(rows) if args.csv else as_text(rows).encode("utf-8")

    data = asyncio.run(_with_crm(settings, scenario, work))
    _write_output(data, args.output)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write all friends, or a segment's, as CSV (UTF-8 with BOM, CRLF) for Excel."""
    from bot.crm.csv_io import export_friends
    from bot.crm.segments import SegmentError

    settings = _settings()
    scenario = _load_scenario_or_exit(settings)
    cond: Any = None
    if args.segment is not None:
        if args.segment not in scenario.segments:
            known = "、".join(scenario.segments) or "(なし)"
            print(
                f"stepbot: セグメント「{args.segment}」はシナリオにありません(あるもの: {known})",
                file=sys.stderr,
            )
            return 2
        cond = args.segment
    elif args.where is not None:
        cond = _condition_or_exit(args.where)

    async def work(crm: Crm) -> bytes:
        return await export_friends(crm, cond)

    try:
        data = asyncio.run(_with_crm(settings, scenario, work))
    except SegmentError as exc:
        print(f"stepbot: {exc}", file=sys.stderr)
        return 2
    _write_output(data, args.output)
    return 0


def _quota_option(text: str) -> int | None:
    """`--quota`: a whole number of messages a month, or `none` for no limit."""
    if text.strip().lower() == "none":
        return None
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number or none, got {text!r}")
    return int(text)


def _retry_after_option(text: str) -> int | str:
    """`--retry-after`: whole seconds, or `auto` (until the rate limit lets a call through)."""
    if text.strip().lower() == "auto":
        return "auto"
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected whole seconds or auto, got {text!r}")
    return int(text)


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run only the LINE stand-in, for pointing a stepbot (or another bot) at it."""
    from bot.sandbox.setup import standalone_app
    from bot.sandbox.state import SettingsError

    setup_logging(os.environ.get("LOG_FORMAT", "text"))
    faults: dict[str, Any] = {"rate": args.fault_rate, "kind": args.fault_kind}
    if args.fault_seed is not None:
        faults["seed"] = args.fault_seed
    if args.fault_endpoints:
        faults["endpoints"] = [e.strip() for e in args.fault_endpoints.split(",") if e.strip()]
    settings: dict[str, Any] = {
        "rateLimits": args.rate_limits,
        "faults": faults,
        "quota": args.quota,
        "retryAfter": args.retry_after,
    }
    try:
        app = standalone_app(
            webhook_url=args.webhook_url,
            channel_secret=args.channel_secret,
            expected_token=args.access_token,
            settings=settings,
        )
    except SettingsError as exc:
        print(f"stepbot sandbox: {exc}", file=sys.stderr)
        return 2

    def announce(_: object) -> None:
        base = f"http://{args.host}:{args.port}"
        print(f"LINE stand-in on {base} (LINE_API_BASE_URL={base})", flush=True)
        print(f"Simulator: {base}/sandbox — webhooks go to {args.webhook_url}", flush=True)

    web.run_app(app, host=args.host, port=args.port, print=announce, access_log=None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepbot", description="Marketing-automation bot for LINE Official Accounts."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the server (settings from the environment)").set_defaults(
        func=cmd_run
    )
    check = sub.add_parser("check", help="validate a scenario file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check)
    sub.add_parser("schema", help="print the scenario file's JSON Schema").set_defaults(
        func=cmd_schema
    )
    admin = sub.add_parser("admin", help="add, remove or list admins")
    admin_sub = admin.add_subparsers(dest="action", required=True)
    admin_add = admin_sub.add_parser("add", help="make a LINE user an admin")
    admin_add.add_argument("user_id", help="the LINE user id (U + 32 hex digits)")
    admin_add.add_argument("--role", choices=["owner", "admin", "operator"], default="admin")
    admin_remove = admin_sub.add_parser("remove", help="take admin rights away")
    admin_remove.add_argument("user_id")
    admin_sub.add_parser("list", help="list admins")
    admin.set_defaults(func=cmd_admin)
    sub.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(
        func=cmd_migrate
    )
    importer = sub.add_parser(
        "import", help="import friends from a CSV file (Lステップ, Liny, エルメ...)"
    )
    importer.add_argument("file", help="the CSV file (UTF-8 or Shift_JIS), or - for stdin")
    importer.add_argument(
        "--dry-run", action="store_true", help="only check and report, write nothing"
    )
    importer.add_argument("--actor", default="import", help="who is recorded in tag history")
    importer.set_defaults(func=cmd_import)
    exporter = sub.add_parser("export", help="export friends as CSV for Excel")
    which = exporter.add_mutually_exclusive_group()
    which.add_argument("--segment", help="only friends in this named segment")
    which.add_argument("--where", help="only friends matching this condition (YAML or JSON)")
    exporter.add_argument("-o", "--output", help="write to this file (default: stdout)")
    exporter.set_defaults(func=cmd_export)
    stats = sub.add_parser(
        "stats", help="statistics: steps, broadcasts, taps, links, A/B, inflow routes"
    )
    stats.add_argument("--csv", action="store_true", help="CSV (UTF-8 with BOM) for Excel")
    stats.add_argument("-o", "--output", help="write to this file (default: stdout)")
    stats.set_defaults(func=cmd_stats)
    sandbox = sub.add_parser("sandbox", help="run only the LINE Platform stand-in")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument("--webhook-url", default="http://127.0.0.1:8080/callback")
    sandbox.add_argument(
        "--channel-secret",
        default=os.environ.get("LINE_CHANNEL_SECRET") or SANDBOX_CHANNEL_SECRET,
    )
    sandbox.add_argument(
        "--access-token",
        default=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN") or None,
        help="if given, only this bearer token is accepted",
    )
    sandbox.add_argument(
        "--rate-limits",
        action="store_true",
        help="answer 429 beyond LINE's rate limits (push 2000/s, multicast 200/s, ...)",
    )
    sandbox.add_argument(
        "--retry-after",
        type=_retry_after_option,
        metavar="SECONDS|auto",
        help="send Retry-After with rate-limit 429s (fixed seconds, or auto)",
    )
    sandbox.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="0..1",
        help="fraction of API calls that fail on purpose (default 0)",
    )
    sandbox.add_argument(
        "--fault-kind",
        choices=["500", "timeout", "accept-then-500"],
        default="500",
        help="how they fail: 500, hang (timeout), or deliver and then answer 500",
    )
    sandbox.add_argument(
        "--fault-endpoints",
        metavar="NAMES",
        help="only these endpoints fail, e.g. push,multicast (default: all)",
    )
    sandbox.add_argument("--fault-seed", type=int, help="make the failures repeatable")
    sandbox.add_argument(
        "--quota",
        type=_quota_option,
        default=None,
        help="monthly message quota, or none for no limit (default: none)",
    )
    sandbox.set_defaults(func=cmd_sandbox)
    # Rich menus: `stepbot menus sync` and `stepbot menus preview` (bot/richmenus/commands.py).
    from bot.richmenus.commands import add_menus_command

    add_menus_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
