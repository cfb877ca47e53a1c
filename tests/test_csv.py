"""CSV import and export of friends, against a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.crm.csv_io import (
    EXPORT_COLUMNS,
    CsvFormatError,
    decode_csv,
    export_friends,
    import_friends,
    read_csv,
)
from bot.crm.events import DomainEvent
from bot.crm.service import Crm
from bot.db.models import Friend, FriendField, FriendTag, PointEntry, Tag
from bot.db.runtime import close_database, open_database
from bot.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent

SCENARIO_YAML = """\
version: 1
timezone: Asia/Tokyo
tags:
  - VIP
  - folder: 流入経路
    tags: [広告, 紹介]
fields:
  誕生日: {type: date}
  会員ランク: {type: choice, choices: [ブロンズ, シルバー, ゴールド]}
  興味: {type: multi_choice, choices: [和食, 洋食, 中華]}
  来店回数: {type: number, min: 0}
  メモ: {type: text, max_length: 50}
  メルマガ: {type: bool}
segments:
  vip: {tag: VIP}
"""

HEADER = "LINEユーザーID,表示名,タグ,ポイント,誕生日,会員ランク,興味,来店回数,メモ,メルマガ"


def uid(number: int) -> str:
    return f"U{number:032x}"


GOOD = (
    f"{HEADER}\n"
    f'{uid(1)},山田花子,"VIP、広告",120,1990/4/5,ゴールド,"和食,洋食",3,"1行目\n2行目, カンマ",はい\n'
    f"{uid(2)},佐藤 太郎,紹介|常連,0,,,,,,いいえ\n"
    f"{uid(3)},,,,2001-12-24,,,,,\n"
)


@pytest.fixture
async def crm(database_url: str) -> AsyncIterator[Crm]:
    ctx = await open_database(database_url)
    try:
        yield Crm(parse_scenario(SCENARIO_YAML, "test.yaml"))
    finally:
        await close_database(ctx)


async def snapshot(user_ids: list[str] | None = None) -> dict[str, Any]:
    """Each friend's name, current tags, fields and points balance, by LINE user id."""
    crm = Crm(parse_scenario(SCENARIO_YAML, "test.yaml"))
    out: dict[str, Any] = {}
    query = Friend.all() if user_ids is None else Friend.filter(line_user_id__in=user_ids)
    for friend in await query:
        tags = await FriendTag.filter(friend_id=friend.id, removed_at__isnull=True).values_list(
            "tag__name", flat=True
        )
        out[friend.line_user_id] = (
            friend.display_name,
            sorted(str(tag) for tag in tags),
            await crm.fields.get_all(friend.id),
            friend.points,
        )
    return out


async def ledger_total(user_id: str) -> int:
    friend = await Friend.get(line_user_id=user_id)
    deltas = await PointEntry.filter(friend_id=friend.id).values_list("delta", flat=True)
    return sum(int(str(delta)) for delta in deltas)


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "label"),
    [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM付き)"), ("cp932", "Shift_JIS")],
)
def test_read_csv_decodes_utf8_with_or_without_bom_and_shift_jis(encoding: str, label: str) -> None:
    data = GOOD.encode(encoding)
    assert decode_csv(data)[1] == label
    header, rows = read_csv(data)
    assert header.cells == HEADER.split(",")
    assert header.line == 1
    assert rows[0].cells[1] == "山田花子"
    assert rows[0].cells[8] == "1行目\n2行目, カンマ"
    assert rows[1].cells[1:3] == ["佐藤 太郎", "紹介|常連"]


def test_read_csv_keeps_the_physical_line_of_each_row() -> None:
    text = (
        "line_user_id,name\r\n"
        f'{uid(1)},"two\r\nlines"\r\n'
        "\r\n"  # a blank line is skipped but still counted
        f'{uid(2)},"three\nphysical\nlines, with a comma"\r\n'
        f"{uid(3)},after\r\n"
    )
    header, rows = read_csv(text.encode())
    assert header.line == 1
    assert [(row.line, row.cells[1]) for row in rows] == [
        (2, "two\r\nlines"),
        (5, "three\nphysical\nlines, with a comma"),
        (8, "after"),
    ]


def test_read_csv_reports_what_cannot_be_read() -> None:
    with pytest.raises(CsvFormatError) as unclosed:
        read_csv(f'line_user_id,name\n{uid(1)},"never closed\n{uid(2)},x\n'.encode())
    assert unclosed.value.line == 2
    with pytest.raises(CsvFormatError) as empty:
        read_csv(b"")
    assert "空" in empty.value.message
    with pytest.raises(CsvFormatError) as garbage:
        read_csv(b"line_user_id\n\xff\xfe\xfa\n")
    assert garbage.value.line == 2


# --- importing ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
async def test_import_accepts_every_encoding(crm: Crm, encoding: str) -> None:
    report = await import_friends(GOOD.encode(encoding), crm, dry_run=False)
    assert report.ok, report.problems()
    assert report.created == 3
    assert (await Friend.get(line_user_id=uid(1))).display_name == "山田花子"
    assert await crm.fields.get((await Friend.get(line_user_id=uid(1))).id, "メモ") == (
        "1行目\n2行目, カンマ"
    )


async def test_a_good_import_creates_friends_tags_fields_and_points(crm: Crm) -> None:
    events: list[DomainEvent] = []

    async def record(event: DomainEvent) -> None:
        events.append(event)

    crm.bus.subscribe(record)
    report = await import_friends(GOOD.encode(), crm, dry_run=False, actor="移行担当")
    assert report.ok and report.written and not report.dry_run
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert report.tags_added == 4
    assert report.new_tags == ["VIP", "広告", "紹介", "常連"]  # none is in the database yet
    assert report.undeclared_tags == ["常連"]
    assert "シナリオに宣言されていないタグ: 常連" in report.summary()
    assert report.fields_set == 8
    assert report.points_changed == 1
    assert "取り込みました" in report.summary()

    state = await snapshot()
    assert state[uid(1)] == (
        "山田花子",
        ["VIP", "広告"],
        {
            "誕生日": date(1990, 4, 5),
            "会員ランク": "ゴールド",
            "興味": ["和食", "洋食"],
            "来店回数": 3,
            "メモ": "1行目\n2行目, カンマ",
            "メルマガ": True,
        },
        120,
    )
    assert state[uid(2)] == ("佐藤 太郎", ["常連", "紹介"], {"メルマガ": False}, 0)
    assert state[uid(3)] == ("", [], {"誕生日": date(2001, 12, 24)}, 0)

    friend = await Friend.get(line_user_id=uid(1))
    assert not friend.blocked and friend.followed_at is None
    assert friend.created_at is not None and friend.updated_at is not None
    history = await FriendTag.filter(friend_id=friend.id).values("source", "actor", "removed_at")
    assert history == [{"source": "import", "actor": "移行担当", "removed_at": None}] * 2
    entries = await PointEntry.filter(friend_id=friend.id).values("kind", "delta", "reason")
    assert entries == [{"kind": "import", "delta": 120, "reason": "CSV取り込み"}]
    assert (await Tag.get(name="広告")).folder == "流入経路"
    assert events == []  # a migration of state: rules must not fire


async def test_a_dry_run_changes_nothing_and_reports_what_would_change(crm: Crm) -> None:
    await import_friends(GOOD.encode(), crm, dry_run=False)
    before = await snapshot()
    tags_before = await Tag.all().count()
    changed = (
        f"line_user_id,name,tags,points,誕生日\n"
        f"{uid(1)},山田花子,VIP|新入り,500,1990-04-05\n"  # new tag and points
        f"{uid(2)},佐藤 太郎,,,\n"  # nothing new
        f"{uid(4)},新しい人,,10,2000-01-01\n"
    )
    report = await import_friends(changed.encode(), crm, dry_run=True)
    assert report.ok and report.dry_run and not report.written
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert report.tags_added == 1 and report.new_tags == ["新入り"]
    assert report.fields_set == 1
    assert report.points_changed == 2
    assert "まだ何も書き込んでいません" in report.summary()
    assert await snapshot() == before
    assert await Tag.all().count() == tags_before
    assert not await Friend.filter(line_user_id=uid(4)).exists()


async def test_every_rejected_row_is_listed_with_its_line_and_nothing_is_written(
    crm: Crm,
) -> None:
    bad = (
        f"{HEADER}\n"  # line 1
        f"{uid(1)},良い人,VIP,10,,,,,,\n"  # 2: fine on its own
        "U123,短いID,,,,,,,,\n"  # 3
        f'{uid(2)},メモが長い人,,,,,,,"{"あ" * 51}",\n'  # 4
        f'{uid(3)},複数行,,,,,,,"a\nb\nc",\n'  # 5-7: fine, spans three lines
        f"{uid(4)},マイナス,,-5,,,,,,\n"  # 8
        f"{uid(1)},重複,,,,,,,,\n"  # 9
        f"{uid(5)},選択肢外,,,,プラチナ,,,,\n"  # 10
        f"{uid(6)},日付,,,1990-13-01,,,,,\n"  # 11
        f"{uid(7)},二つ悪い,,1.5,,,,,,たぶん\n"  # 12
        f"{uid(8)},列が多い,,,,,,,,,余分\n"  # 13
    )
    report = await import_friends(bad.encode(), crm, dry_run=False)
    assert not report.ok and not report.written
    lines = [line for line, _ in report.rejected]
    assert lines == [3, 4, 8, 9, 10, 11, 12, 13]
    reasons = dict(report.rejected)
    assert "LINEユーザーID" in reasons[3]
    assert "メモ" in reasons[4] and "50文字" in reasons[4]
    assert "0以上" in reasons[8]
    assert "2行目と重複" in reasons[9]
    assert "プラチナ" in reasons[10]
    assert "誕生日" in reasons[11]
    assert "ポイント" in reasons[12] and "メルマガ" in reasons[12]
    assert "列が多い" in reasons[13]
    assert "何も書き込んでいません" in report.summary()
    assert report.problems()[0].startswith("3行目: ")
    assert await Friend.all().count() == 0
    assert await FriendTag.all().count() == 0
    assert await FriendField.all().count() == 0
    assert await PointEntry.all().count() == 0


async def test_an_unknown_column_rejects_the_whole_file(crm: Crm) -> None:
    data = f"line_user_id,名前,住所,field:興味\n{uid(1)},山田,東京都,和食\n".encode()
    report = await import_friends(data, crm, dry_run=False)
    assert len(report.rejected) == 1
    line, reason = report.rejected[0]
    assert line == 1
    assert "「住所」" in reason  # which column
    assert "line_user_id" in reason and "誕生日" in reason  # and what is allowed
    assert await Friend.all().count() == 0

    missing = await import_friends(f"name\n{uid(1)}\n".encode(), crm, dry_run=True)
    assert "line_user_id" in missing.rejected[0][1]


async def test_headers_are_matched_in_english_or_japanese_ignoring_case(crm: Crm) -> None:
    data = (
        "LINE_USER_ID,Name,TAGS,ＰＯＩＮＴＳ,field:会員ランク,メモ\n"
        f"{uid(1)},Taro,VIP;紹介,7,シルバー,hello\n"
    ).encode("utf-8-sig")
    report = await import_friends(data, crm, dry_run=False)
    assert report.ok, report.problems()
    assert (await snapshot())[uid(1)] == (
        "Taro",
        ["VIP", "紹介"],
        {"会員ランク": "シルバー", "メモ": "hello"},
        7,
    )
    dates = f"LINE ユーザーID,誕生日\n{uid(1)},2000年1月2日\n{uid(2)},2001/2/3 0:00\n"
    assert (await import_friends(dates.encode("cp932"), crm, dry_run=False)).ok
    birthdays = await FriendField.filter(name="誕生日").order_by("friend_id")
    assert [row.value_date for row in birthdays] == [date(2000, 1, 2), date(2001, 2, 3)]


async def test_reimport_sets_the_balance_to_the_csv_value(crm: Crm) -> None:
    await import_friends(GOOD.encode(), crm, dry_run=False)
    friend = await Friend.get(line_user_id=uid(1))
    await crm.points.add(friend.id, 50, reason="来店", source="admin")
    assert await crm.points.balance(friend.id) == 170

    lower = f"line_user_id,points\n{uid(1)},100\n{uid(2)},30\n"
    report = await import_friends(lower.encode(), crm, dry_run=False)
    assert report.ok and report.points_changed == 2 and report.updated == 2
    assert await crm.points.balance(friend.id) == 100
    assert await ledger_total(uid(1)) == 100
    assert await ledger_total(uid(2)) == 30
    # the 70 taken away came out of the unspent earning, so expiry cannot take it again
    earning = await PointEntry.get(friend_id=friend.id, kind="earn")
    assert earning.remaining == 0

    higher = f"line_user_id,points\n{uid(1)},1000\n"
    await import_friends(higher.encode(), crm, dry_run=False)
    assert await crm.points.balance(friend.id) == 1000
    assert await ledger_total(uid(1)) == 1000
    deltas = await PointEntry.filter(friend_id=friend.id, kind="import").values_list(
        "delta", flat=True
    )
    assert sorted(int(str(d)) for d in deltas) == [-70, 120, 900]

    again = await import_friends(higher.encode(), crm, dry_run=False)
    assert again.points_changed == 0 and again.updated == 0 and again.unchanged == 1
    assert not again.written


# --- exporting ----------------------------------------------------------------------------


async def test_export_is_excel_friendly_utf8_with_bom_and_crlf(crm: Crm) -> None:
    await import_friends(GOOD.encode(), crm, dry_run=False)
    followed = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)  # 2026-04-01 00:30 in Tokyo
    await Friend.filter(line_user_id=uid(1)).update(followed_at=followed)
    await Friend.filter(line_user_id=uid(2)).update(blocked=True, display_name="=HYPERLINK(1)")
    data = await export_friends(crm)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "").replace("1行目\n2行目", "")
    header, rows = read_csv(data)
    assert header.cells == [
        *EXPORT_COLUMNS,
        "誕生日",
        "会員ランク",
        "興味",
        "来店回数",
        "メモ",
        "メルマガ",
    ]
    by_user = {row.cells[1]: row.cells for row in rows}
    first = by_user[uid(1)]
    assert first[2:7] == ["山田花子", "2026-04-01 00:30", "いいえ", "120", "VIP、広告"]
    assert first[7:] == [
        "1990-04-05",
        "ゴールド",
        "和食、洋食",
        "3",
        "1行目\n2行目, カンマ",
        "はい",
    ]
    second = by_user[uid(2)]
    assert second[2:5] == ["'=HYPERLINK(1)", "", "はい"]  # Excel must not run a name
    assert [row.cells[0] for row in rows] == sorted((row.cells[0] for row in rows), key=int)


async def test_export_of_everyone_round_trips_through_import(crm: Crm) -> None:
    await import_friends(GOOD.encode(), crm, dry_run=False)
    await Friend.filter(line_user_id=uid(2)).update(display_name="-マイナス始まり")
    before = await snapshot()
    exported = await export_friends(crm)

    same = await import_friends(exported, crm, dry_run=True)
    assert same.ok, same.problems()
    assert (same.created, same.updated, same.unchanged) == (0, 0, 3)

    await Friend.all().delete()
    report = await import_friends(exported, crm, dry_run=False)
    assert report.ok and report.created == 3
    assert await snapshot() == before


async def test_export_of_a_segment_round_trips_through_import(crm: Crm) -> None:
    await import_friends(GOOD.encode(), crm, dry_run=False)
    before = await snapshot([uid(1)])
    exported = await export_friends(crm, "vip")
    _, rows = read_csv(exported)
    assert [row.cells[1] for row in rows] == [uid(1)]
    by_condition = await export_friends(crm, {"points": {"gte": 100}})
    assert by_condition == exported

    await Friend.all().delete()
    report = await import_friends(exported, crm, dry_run=False)
    assert report.ok and report.created == 1
    assert await snapshot() == before


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """The SQL statements tortoise runs meanwhile (from its debug log)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("tortoise.db_client")
    handler, level = Collect(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_many_friends_take_a_few_queries_not_a_few_per_friend(crm: Crm) -> None:
    count = 1200
    lines = [HEADER] + [
        f"{uid(n)},友だち{n},VIP、タグ{n % 7},{n},1990-01-{n % 28 + 1:02d},シルバー,中華,{n},,はい"
        for n in range(1, count + 1)
    ]
    data = "\n".join(lines).encode("cp932")
    with counting_queries() as imported:
        report = await import_friends(data, crm, dry_run=False)
    assert report.ok and report.created == count
    assert 0 < len(imported) < 60, len(imported)

    with counting_queries() as exported:
        out = await export_friends(crm)
    assert 0 < len(exported) < 15, len(exported)
    _, rows = read_csv(out)
    assert len(rows) == count
    assert (await snapshot([uid(77)]))[uid(77)][1] == ["VIP", "タグ0"]


# --- the command line ---------------------------------------------------------------------


def stepbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_cli_imports_with_a_dry_run_first_and_exports(database_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO_YAML, encoding="utf-8")
    csv_file = tmp_path / "friends.csv"
    csv_file.write_bytes(GOOD.encode("cp932"))
    env = {**os.environ, "DATABASE_URL": database_url, "STEPBOT_SCENARIO": str(scenario)}

    dry = stepbot("import", str(csv_file), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr.decode()
    assert "新規 3人" in dry.stdout.decode() and "まだ何も書き込んでいません" in dry.stdout.decode()
    empty = stepbot("export", env=env)
    assert empty.returncode == 0, empty.stderr.decode()
    assert len(read_csv(empty.stdout)[1]) == 0  # the dry run wrote nothing

    real = stepbot("import", str(csv_file), env=env)
    assert real.returncode == 0, real.stderr.decode()
    assert "取り込みました" in real.stdout.decode()

    out = tmp_path / "out.csv"
    written = stepbot("export", "-o", str(out), env=env)
    assert written.returncode == 0, written.stderr.decode()
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(read_csv(out.read_bytes())[1]) == 3

    segment = stepbot("export", "--segment", "vip", env=env)
    assert [row.cells[1] for row in read_csv(segment.stdout)[1]] == [uid(1)]
    where = stepbot("export", "--where", '{"any_tags": ["紹介"]}', env=env)
    assert where.returncode == 0, where.stderr.decode()
    assert [row.cells[1] for row in read_csv(where.stdout)[1]] == [uid(2)]
    unknown = stepbot("export", "--segment", "nope", env=env)
    assert unknown.returncode == 2 and "nope" in unknown.stderr.decode()

    broken = tmp_path / "broken.csv"
    broken.write_bytes(f"line_user_id,points\n{uid(9)},10\nUbad,5\n".encode())
    refused = stepbot("import", str(broken), env=env)
    assert refused.returncode == 1
    assert f"{broken}: 3行目: LINEユーザーID" in refused.stderr.decode()
    assert "何も書き込んでいません" in refused.stdout.decode()


async def test_a_field_named_like_a_builtin_column_goes_through_field_prefix(
    database_url: str,
) -> None:
    scenario = parse_scenario(
        "version: 1\nfields:\n  名前: {type: text}\n  ランク: {type: number}\n", "test.yaml"
    )
    ctx = await open_database(database_url)
    try:
        crm = Crm(scenario)
        data = f"line_user_id,名前,Field : 名前,ランク\n{uid(1)},表示,本名,2\n".encode()
        report = await import_friends(data, crm, dry_run=False)
        assert report.ok, report.problems()
        friend = await Friend.get(line_user_id=uid(1))
        assert friend.display_name == "表示"
        assert await crm.fields.get_all(friend.id) == {"名前": "本名", "ランク": 2}
        header, _ = read_csv(await export_friends(crm))
        assert header.cells[-2:] == ["field:名前", "ランク"]
        again = await import_friends(await export_friends(crm), crm, dry_run=True)
        assert again.ok and again.unchanged == 1
    finally:
        await close_database(ctx)
