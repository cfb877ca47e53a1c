"""CSV import and export of friends, for operators moving from Lステップ, Liny, エルメ etc.

Import is a migration of state that already exists elsewhere, not something friends did:
it writes the tables directly and publishes no domain events, so rules, scores and steps
do not fire on imported tags, fields or points. Every row is validated before anything is
written and the write is one transaction, so a file with any rejected row changes nothing
("nothing half-imported"). Friends, tags and fields are written with bulk statements, and
export reads tags and fields a chunk of friends at a time, so tens of thousands of rows
take a handful of queries per thousand rather than a few per friend.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tortoise.transactions import in_transaction

from bot import clock
from bot.crm.fields import FieldValueError, coerce, from_row, to_columns
from bot.crm.segments import CondLike
from bot.db.models import Friend, FriendField, FriendTag, PointEntry, Tag
from bot.scenario.actions import TAG_NAME_MAX
from bot.scenario.crm import FieldDeclaration

if TYPE_CHECKING:
    from bot.crm.service import Crm

USER_ID_PATTERN = re.compile(r"U[0-9a-f]{32}")
IMPORT_SOURCE = "import"
IMPORT_KIND = "import"
IMPORT_REASON = "CSV取り込み"
NAME_MAX = 200  # friends.display_name
POINTS_MAX = 2**31 - 1  # friends.points is a 32-bit integer
TAG_SEPARATORS = re.compile(r"[,、;|]")
EXPORT_COLUMNS = ("#id", "line_user_id", "表示名", "友だち追加日時", "ブロック", "ポイント", "タグ")
TIME_FORMAT = "%Y-%m-%d %H:%M"
YES, NO = "はい", "いいえ"

# Column kinds, and every header spelling that means them (compared after _normalize).
USER_ID, NAME, TAGS, POINTS = "user_id", "name", "tags", "points"
IGNORED, FIELD = "ignored", "field"
HEADER_ALIASES: dict[str, str] = {
    "line_user_id": USER_ID,
    "lineユーザーid": USER_ID,
    "ユーザーid": USER_ID,
    "name": NAME,
    "表示名": NAME,
    "名前": NAME,
    "tags": TAGS,
    "タグ": TAGS,
    "points": POINTS,
    "ポイント": POINTS,
    # Export-only columns: accepted so an exported file imports again, and ignored.
    "#id": IGNORED,
    "友だち追加日時": IGNORED,
    "ブロック": IGNORED,
}
FIELD_PREFIX = "field:"

# Excel runs a cell that starts with one of these as a formula; export puts a ' before
# such text (LINE display names are chosen by strangers) and import takes it off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_PREFIXED = re.compile(r"\s*field\s*:\s*(.*?)\s*", re.IGNORECASE | re.DOTALL)
_CHUNK = 500  # ids per IN (...) list and rows per bulk statement
_DATE = re.compile(
    r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
)

_T = TypeVar("_T")


class CsvFormatError(ValueError):
    """The file cannot be read as CSV at all (encoding, unclosed quote, no header)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}行目: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class CsvRow:
    """One CSV record and the physical line it starts on (quoted newlines span lines)."""

    line: int
    cells: list[str]


# --- reading ------------------------------------------------------------------------------


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-8 (with or without Excel's BOM) first,
    then Shift_JIS (CP932, what Excel's plain "CSV" saves on Japanese Windows)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    else:
        return text, "UTF-8 (BOM付き)" if data.startswith(b"\xef\xbb\xbf") else "UTF-8"
    try:
        return data.decode("cp932"), "Shift_JIS"
    except UnicodeDecodeError as exc:
        position = max(utf8_error.start, exc.start)
    line = data.count(b"\n", 0, position) + 1
    raise CsvFormatError(
        line,
        "文字コードを判別できません(UTF-8 でも Shift_JIS でもない文字があります)。"
        "UTF-8 で保存し直してください (not UTF-8 or Shift_JIS)",
    )


def parse_csv(text: str) -> tuple[CsvRow, list[CsvRow]]:
    """The header and the data rows of CSV text, blank rows left out."""
    records: list[CsvRow] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                message = '引用符(")が閉じられていません (unclosed quote)'
            else:
                message = f"CSVの形式が正しくありません ({exc})"
            raise CsvFormatError(start, message) from None
        end = reader.line_num
        if any(cell.strip() for cell in cells):
            records.append(CsvRow(start, cells))
    if not records:
        raise CsvFormatError(1, "空のファイルです。1行目に見出し(line_user_id など)が必要です")
    return records[0], records[1:]


def read_csv(data: bytes) -> tuple[CsvRow, list[CsvRow]]:
    """Decode (UTF-8 or Shift_JIS) and split into the header and data rows with line numbers.

    Raises CsvFormatError when the bytes are not readable CSV at all.
    """
    text, _ = decode_csv(data)
    return parse_csv(text)


# --- columns ------------------------------------------------------------------------------


def _normalize(header: str) -> str:
    """Header as compared: full-width letters folded (NFKC), case and spaces ignored."""
    text = unicodedata.normalize("NFKC", header.replace("\ufeff", ""))
    return re.sub(r"\s+", "", text).casefold()


@dataclass(frozen=True)
class _Column:
    index: int
    kind: str
    field_name: str | None = None


def _allowed_columns(declarations: Mapping[str, FieldDeclaration]) -> str:
    fields = "、".join(declarations) if declarations else "(シナリオに宣言なし)"
    return (
        "使える列: line_user_id(LINEユーザーID/ユーザーID、必須)、name(表示名/名前)、"
        f"tags(タグ)、points(ポイント)、友だち情報欄: {fields}(field:名前 の形でも可)。"
        "エクスポートの #id・友だち追加日時・ブロック 列は無視されます"
    )


def _field_named(header: str, declarations: Mapping[str, FieldDeclaration]) -> str | None:
    if header.strip() in declarations:
        return header.strip()
    wanted = _normalize(header)
    return next((name for name in declarations if _normalize(name) == wanted), None)


def _map_columns(
    header: CsvRow, rows: Sequence[CsvRow], declarations: Mapping[str, FieldDeclaration]
) -> tuple[list[_Column], list[str]]:
    """What each header cell means, and the problems that make the whole file unusable."""
    columns: list[_Column] = []
    problems: list[str] = []
    unknown: list[str] = []
    seen: dict[tuple[str, str | None], int] = {}
    for index, raw in enumerate(header.cells):
        key = _normalize(raw)
        if not key:
            if any(index < len(row.cells) and row.cells[index].strip() for row in rows):
                problems.append(
                    f"{index + 1}列目の見出しが空です(値が入っているのに列名がありません)"
                )
            continue
        kind = HEADER_ALIASES.get(key)
        name: str | None = None
        if kind is None:
            prefixed = _PREFIXED.fullmatch(unicodedata.normalize("NFKC", raw))
            name = _field_named(prefixed.group(1) if prefixed else raw, declarations)
            if name is None:
                unknown.append(raw.strip())
                continue
            kind = FIELD
        if kind != IGNORED:
            if (kind, name) in seen:
                first = seen[(kind, name)]
                problems.append(
                    f"「{raw.strip()}」列が2回あります({first + 1}列目と{index + 1}列目)"
                )
                continue
            seen[(kind, name)] = index
        columns.append(_Column(index, kind, name))
    if unknown:
        listed = "、".join(f"「{name}」" for name in unknown)
        problems.append(f"知らない列があります: {listed}。{_allowed_columns(declarations)}")
    if not any(column.kind == USER_ID for column in columns):
        problems.append(
            "line_user_id(LINEユーザーID)列がありません。友だちはLINEユーザーIDで見分けます"
        )
    return columns, problems


# --- rows ---------------------------------------------------------------------------------


@dataclass
class _Entry:
    """A validated row: what it says about one friend (None / empty = leave as is)."""

    line: int
    user_id: str
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    points: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def unguard(text: str) -> str:
    """Undo export's formula guard: "'=x" back to "=x" (a ' before other text stays)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "".join(_FORMULA_STARTS):
        return text[1:]
    return text


def guard(text: str) -> str:
    """Text Excel will show rather than run: "=x" becomes "'=x"."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def split_tags(cell: str) -> list[str]:
    """Tag names in one cell, separated by , 、 ; or |, in order without repeats."""
    names = (name.strip() for name in TAG_SEPARATORS.split(unguard(cell)))
    return list(dict.fromkeys(name for name in names if name))


def _points(cell: str) -> int:
    text = unicodedata.normalize("NFKC", cell).strip().replace(",", "")
    if re.fullmatch(r"-\s*\d+", text):
        raise ValueError(f"ポイントは0以上の整数です: {cell.strip()!r}")
    if not re.fullmatch(r"\d+", text):
        raise ValueError(f"ポイントは0以上の整数で入力してください: {cell.strip()!r}")
    number = int(text)
    if number > POINTS_MAX:
        raise ValueError(f"ポイントが大きすぎます(最大 {POINTS_MAX}): {number}")
    return number


def _date_text(cell: str) -> str:
    """Dates as Excel and people write them (1990/4/5, 1990年4月5日, 1990/4/5 0:00) in ISO
    form; anything else goes to `coerce` as it is, to be rejected with its message."""
    text = unicodedata.normalize("NFKC", cell).strip()
    match = _DATE.fullmatch(text)
    if match is None:
        return text
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _parse_row(
    row: CsvRow,
    width: int,
    columns: Sequence[_Column],
    declarations: Mapping[str, FieldDeclaration],
) -> tuple[_Entry, list[str]]:
    """The row's entry and every problem with it (the entry is unusable if any)."""
    problems: list[str] = []
    entry = _Entry(row.line, "")
    if any(cell.strip() for cell in row.cells[width:]):
        problems.append(f"見出しより列が多いです(見出し {width}列、この行 {len(row.cells)}列)")
    for column in columns:
        cell = row.cells[column.index] if column.index < len(row.cells) else ""
        if column.kind == USER_ID:
            user_id = cell.strip()
            if not user_id:
                problems.append("LINEユーザーIDが空です")
            elif not USER_ID_PATTERN.fullmatch(user_id):
                problems.append(
                    f"LINEユーザーIDの形式が正しくありません(U と32桁の0-9a-f): {user_id!r}"
                )
            entry.user_id = user_id
        elif not cell.strip():
            continue  # an empty cell leaves the friend's value as it is
        elif column.kind == NAME:
            name = unguard(cell)
            if len(name) > NAME_MAX:
                problems.append(f"表示名は{NAME_MAX}文字以内です({len(name)}文字)")
            entry.name = name
        elif column.kind == TAGS:
            entry.tags = split_tags(cell)
            long = [name for name in entry.tags if len(name) > TAG_NAME_MAX]
            if long:
                problems.append(f"タグ名は{TAG_NAME_MAX}文字以内です: {'、'.join(long)}")
        elif column.kind == POINTS:
            try:
                entry.points = _points(cell)
            except ValueError as exc:
                problems.append(str(exc))
        elif column.kind == FIELD and column.field_name is not None:
            decl = declarations[column.field_name]
            value: Any = unguard(cell)
            if decl.type == "date":
                value = _date_text(cell)
            try:
                entry.fields[column.field_name] = coerce(column.field_name, decl, value)
            except FieldValueError as exc:
                problems.append(str(exc))
    return entry, problems


# --- the report ---------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did or, in a dry run or when rows were rejected, would do."""

    dry_run: bool
    encoding: str = ""
    rows: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    tags_added: int = 0
    new_tags: list[str] = field(default_factory=list)
    undeclared_tags: list[str] = field(default_factory=list)
    fields_set: int = 0
    points_changed: int = 0
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejected

    def problems(self) -> list[str]:
        """Every rejected row as "N行目: reason", in file order."""
        return [f"{line}行目: {reason}" for line, reason in self.rejected]

    def summary(self) -> str:
        """A few lines in Japanese for the operator."""
        source = f"{self.rows}行" + (f"、{self.encoding}" if self.encoding else "")
        if self.rejected:
            count = len({line for line, _ in self.rejected})
            return (
                f"取り込めません: {count}行にエラーがあります({source})。"
                "何も書き込んでいません。エラーを直して、もう一度実行してください。\n"
                "Import refused: fix the rejected rows; nothing was written."
            )
        if self.dry_run:
            head = (
                f"確認のみ(dry run、{source}): まだ何も書き込んでいません。"
                "取り込むと次のとおりです。"
            )
        elif self.written:
            head = f"取り込みました({source})。"
        else:
            head = f"変更はありません({source})。"
        tags = f"タグ付与: {self.tags_added}件"
        if self.new_tags:
            tags += f"(新しく作るタグ: {'、'.join(self.new_tags)})"
        if self.undeclared_tags:
            tags += (
                f"\n  シナリオに宣言されていないタグ: {'、'.join(self.undeclared_tags)}"
                "(ルールやセグメントで使うにはシナリオの tags に追加してください)"
            )
        return "\n".join(
            [
                head,
                f"友だち: 新規 {self.created}人、更新 {self.updated}人、"
                f"変更なし {self.unchanged}人",
                tags,
                f"友だち情報欄の設定: {self.fields_set}件",
                f"ポイント残高の変更: {self.points_changed}人",
            ]
        )


# --- planning and writing -----------------------------------------------------------------


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Plan:
    """Exactly the changes an import makes, worked out against the current database."""

    new_friends: list[_Entry] = field(default_factory=list)
    friends: dict[str, Friend] = field(default_factory=dict)  # existing, by user id
    changed: dict[str, Friend] = field(default_factory=dict)  # existing friends to update
    points: list[tuple[str, int]] = field(default_factory=list)  # (user id, delta)
    tag_adds: list[tuple[str, str]] = field(default_factory=list)  # (user id, tag)
    tag_ids: dict[str, int] = field(default_factory=dict)
    new_tags: list[str] = field(default_factory=list)
    field_sets: list[tuple[str, str, Any]] = field(default_factory=list)  # (user id, name, value)
    replaced_fields: list[int] = field(default_factory=list)  # friend_fields ids to rewrite


async def _plan(entries: Sequence[_Entry], crm: Crm, *, lock: bool) -> _Plan:
    """Compare the rows with the database; `lock` holds the friends' rows (PostgreSQL)."""
    plan = _Plan()
    user_ids = [entry.user_id for entry in entries]
    for some_users in _chunks(user_ids):
        query = Friend.filter(line_user_id__in=list(some_users))
        for known in await (query.select_for_update() if lock else query):
            plan.friends[known.line_user_id] = known

    tag_names = list(dict.fromkeys(name for entry in entries for name in entry.tags))
    for some_tags in _chunks(tag_names):
        found = await Tag.filter(name__in=list(some_tags)).values_list("name", "id")
        plan.tag_ids.update((str(tag_name), int(tag_id)) for tag_name, tag_id in found)
    plan.new_tags = [name for name in tag_names if name not in plan.tag_ids]

    friend_ids = [friend.id for friend in plan.friends.values()]
    open_tags: set[tuple[int, int]] = set()
    current: dict[tuple[int, str], FriendField] = {}
    field_names = list(dict.fromkeys(name for entry in entries for name in entry.fields))
    for chunk in _chunks(friend_ids):
        rows = await FriendTag.filter(
            friend_id__in=list(chunk), removed_at__isnull=True
        ).values_list("friend_id", "tag_id")
        open_tags.update((int(friend_id), int(tag_id)) for friend_id, tag_id in rows)
        if field_names:
            stored = await FriendField.filter(friend_id__in=list(chunk), name__in=field_names)
            current.update(((row.friend_id, row.name), row) for row in stored)

    declarations = crm.scenario.fields
    for entry in entries:
        friend = plan.friends.get(entry.user_id)
        if friend is None:
            plan.new_friends.append(entry)
            plan.tag_adds += [(entry.user_id, name) for name in entry.tags]
            plan.field_sets += [(entry.user_id, n, v) for n, v in entry.fields.items()]
            if entry.points:
                plan.points.append((entry.user_id, entry.points))
            continue
        changed = False
        if entry.name is not None and entry.name != friend.display_name:
            friend.display_name = entry.name
            changed = True
        if entry.points is not None and entry.points != friend.points:
            plan.points.append((entry.user_id, entry.points - friend.points))
            friend.points = entry.points
            changed = True
        for name in entry.tags:
            tag_id = plan.tag_ids.get(name)
            if tag_id is None or (friend.id, tag_id) not in open_tags:
                plan.tag_adds.append((entry.user_id, name))
                changed = True
        for name, value in entry.fields.items():
            old = current.get((friend.id, name))
            if old is not None and from_row(declarations[name], old) == value:
                continue
            if old is not None:
                plan.replaced_fields.append(old.id)
            plan.field_sets.append((entry.user_id, name, value))
            changed = True
        if changed:
            plan.changed[entry.user_id] = friend
    return plan


async def _consume_earnings(losses: Mapping[int, int]) -> None:
    """Take lowered balances out of what is left of earnings, soonest expiry first, so a
    later expiry cannot remove points the import already took away (as spending does)."""
    ids = sorted(losses)
    left = dict(losses)
    touched: list[PointEntry] = []
    for chunk in _chunks(ids):
        earnings = await PointEntry.filter(
            friend_id__in=list(chunk), kind="earn", remaining__gt=0
        ).order_by("friend_id", "id")
        earnings.sort(
            key=lambda e: (e.friend_id, e.expires_at is None, e.expires_at or e.created_at, e.id)
        )
        for entry in earnings:
            take = min(entry.remaining, left[entry.friend_id])
            if take <= 0:
                continue
            left[entry.friend_id] -= take
            entry.remaining -= take
            touched.append(entry)
    if touched:
        await PointEntry.bulk_update(touched, fields=["remaining"], batch_size=_CHUNK)


async def _write(plan: _Plan, crm: Crm, actor: str) -> None:
    """Apply the plan with bulk statements (the caller holds the transaction)."""
    now = clock.now()
    folders = crm.scenario.tag_folders
    if plan.new_tags:
        await Tag.bulk_create(
            [Tag(name=name, folder=folders.get(name), created_at=now) for name in plan.new_tags],
            batch_size=_CHUNK,
        )
        for some_tags in _chunks(plan.new_tags):
            found = await Tag.filter(name__in=list(some_tags)).values_list("name", "id")
            plan.tag_ids.update((str(name), int(tag_id)) for name, tag_id in found)

    ids = {user_id: friend.id for user_id, friend in plan.friends.items()}
    if plan.new_friends:
        await Friend.bulk_create(
            [
                Friend(
                    line_user_id=entry.user_id,
                    display_name=entry.name or "",
                    blocked=False,
                    followed_at=None,
                    points=entry.points or 0,
                    created_at=now,
                    updated_at=now,
                )
                for entry in plan.new_friends
            ],
            batch_size=_CHUNK,
        )
        created = [entry.user_id for entry in plan.new_friends]
        for some_users in _chunks(created):
            found = await Friend.filter(line_user_id__in=list(some_users)).values_list(
                "line_user_id", "id"
            )
            ids.update((str(user_id), int(friend_id)) for user_id, friend_id in found)

    if plan.changed:
        for friend in plan.changed.values():
            friend.updated_at = now
        await Friend.bulk_update(
            list(plan.changed.values()),
            fields=["display_name", "points", "updated_at"],
            batch_size=_CHUNK,
        )

    if plan.points:
        # The imported balance never expires, so it is not an earning ("earn" entries are
        # what spending and expiry draw on); a lowered balance is taken out of earnings.
        await PointEntry.bulk_create(
            [
                PointEntry(
                    friend_id=ids[user_id],
                    kind=IMPORT_KIND,
                    delta=delta,
                    remaining=0,
                    reason=IMPORT_REASON,
                    source=IMPORT_SOURCE,
                    actor=actor,
                    created_at=now,
                    expires_at=None,
                )
                for user_id, delta in plan.points
            ],
            batch_size=_CHUNK,
        )
        losses = {ids[user_id]: -delta for user_id, delta in plan.points if delta < 0}
        if losses:
            await _consume_earnings(losses)

    if plan.tag_adds:
        await FriendTag.bulk_create(
            [
                FriendTag(
                    friend_id=ids[user_id],
                    tag_id=plan.tag_ids[name],
                    added_at=now,
                    source=IMPORT_SOURCE,
                    actor=actor,
                )
                for user_id, name in plan.tag_adds
            ],
            batch_size=_CHUNK,
        )

    for some_rows in _chunks(plan.replaced_fields):
        await FriendField.filter(id__in=list(some_rows)).delete()
    if plan.field_sets:
        declarations = crm.scenario.fields
        new_rows: list[FriendField] = []
        for user_id, name, value in plan.field_sets:
            cols = to_columns(declarations[name], value)
            new_rows.append(
                FriendField(
                    friend_id=ids[user_id],
                    name=name,
                    value_text=cols.text,
                    value_number=cols.number,
                    value_date=cols.day,
                    value_mmdd=cols.mmdd,
                    value_bool=cols.flag,
                    updated_at=now,
                )
            )
        await FriendField.bulk_create(new_rows, batch_size=_CHUNK)


def _validate(
    data: bytes, declarations: Mapping[str, FieldDeclaration], report: ImportReport
) -> list[_Entry]:
    """Every row checked; problems go to `report.rejected` and the good rows come back."""
    try:
        text, report.encoding = decode_csv(data)
        header, rows = parse_csv(text)
    except CsvFormatError as exc:
        report.rejected.append((exc.line, exc.message))
        return []
    report.rows = len(rows)
    columns, problems = _map_columns(header, rows, declarations)
    if problems:
        report.rejected += [(header.line, problem) for problem in problems]
        return []
    entries: list[_Entry] = []
    first_line: dict[str, int] = {}
    for row in rows:
        entry, row_problems = _parse_row(row, len(header.cells), columns, declarations)
        if entry.user_id in first_line:
            first = first_line[entry.user_id]
            row_problems.append(f"LINEユーザーID {entry.user_id} は{first}行目と重複しています")
        elif USER_ID_PATTERN.fullmatch(entry.user_id):
            first_line[entry.user_id] = row.line
        if row_problems:
            report.rejected.append((row.line, " / ".join(row_problems)))
        else:
            entries.append(entry)
    return entries


def _count(plan: _Plan, entries: Sequence[_Entry], crm: Crm, report: ImportReport) -> None:
    report.created = len(plan.new_friends)
    report.updated = len(plan.changed)
    report.unchanged = len(entries) - report.created - report.updated
    report.tags_added = len(plan.tag_adds)
    report.new_tags = list(plan.new_tags)
    declared = crm.scenario.tag_folders
    named = dict.fromkeys(name for entry in entries for name in entry.tags)
    report.undeclared_tags = [name for name in named if name not in declared]
    report.fields_set = len(plan.field_sets)
    report.points_changed = len(plan.points)


async def import_friends(
    data: bytes, crm: Crm, *, dry_run: bool, actor: str = "import"
) -> ImportReport:
    """Import friends from CSV bytes: all rows or, if any row is rejected, none.

    Rows are validated first; rejected rows (with line numbers) are all in the report and
    nothing is written. Otherwise a dry run reports the changes, and a real run writes them
    in one transaction. No domain events are published: rules do not fire on imported data.
    """
    report = ImportReport(dry_run=dry_run)
    entries = _validate(data, crm.scenario.fields, report)
    if report.rejected:
        return report
    if dry_run:
        _count(await _plan(entries, crm, lock=False), entries, crm, report)
        return report
    async with in_transaction():
        # An UPDATE that matches nothing still takes SQLite's write lock: without it a
        # bot writing between our reads and our first write would abort the import.
        await Friend.filter(id=-1).update(updated_at=clock.now())
        plan = await _plan(entries, crm, lock=True)
        _count(plan, entries, crm, report)
        await _write(plan, crm, actor)
    report.written = bool(plan.new_friends or plan.changed)
    return report


# --- export -------------------------------------------------------------------------------


def _when(moment: datetime | None, crm: Crm) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(crm.scenario.zone).strftime(TIME_FORMAT)


def field_text(decl: FieldDeclaration, value: Any) -> str:
    """A field value as import reads it back (dates ISO, booleans はい/いいえ)."""
    if value is None:
        return ""
    if decl.type == "bool":
        return YES if value else NO
    if decl.type == "multi_choice":
        return guard("、".join(str(item) for item in value))
    if isinstance(value, date):
        return value.isoformat()
    if decl.type == "number":
        return str(value)
    return guard(str(value))


def field_header(name: str) -> str:
    """The column name of a field: its name, or field:NAME if that would mean something else."""
    return f"{FIELD_PREFIX}{name}" if _normalize(name) in HEADER_ALIASES else name


async def export_friends(crm: Crm, cond: CondLike | None = None) -> bytes:
    """All friends, or those matching `cond` (a segment name or condition), as CSV bytes.

    UTF-8 with a BOM and CRLF line ends, so Excel opens the Japanese correctly; tags and
    fields are fetched per chunk of friends, never per friend.
    """
    declarations = crm.scenario.fields
    if cond is None:
        every = await Friend.all().order_by("id").values_list("id", flat=True)
        ids = [int(str(friend_id)) for friend_id in every]
    else:
        ids = await crm.segments.friend_ids(cond)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*EXPORT_COLUMNS, *(field_header(name) for name in declarations)])
    for chunk in _chunks(ids, 1000):
        friends = {
            int(row["id"]): row
            for row in await Friend.filter(id__in=list(chunk)).values(
                "id", "line_user_id", "display_name", "followed_at", "blocked", "points"
            )
        }
        tags: dict[int, list[str]] = {}
        tag_rows = (
            await FriendTag.filter(friend_id__in=list(chunk), removed_at__isnull=True)
            .order_by("added_at", "id")
            .values_list("friend_id", "tag__name")
        )
        for friend_id, tag_name in tag_rows:
            tags.setdefault(int(friend_id), []).append(str(tag_name))
        values: dict[int, dict[str, Any]] = {}
        if declarations:
            for row in await FriendField.filter(
                friend_id__in=list(chunk), name__in=list(declarations)
            ):
                values.setdefault(row.friend_id, {})[row.name] = from_row(
                    declarations[row.name], row
                )
        for friend_id in chunk:
            friend = friends.get(friend_id)
            if friend is None:
                continue  # removed while we were exporting
            own = values.get(friend_id, {})
            writer.writerow(
                [
                    friend_id,
                    friend["line_user_id"],
                    guard(friend["display_name"] or ""),
                    _when(friend["followed_at"], crm),
                    YES if friend["blocked"] else NO,
                    friend["points"],
                    guard("、".join(tags.get(friend_id, []))),
                    *(field_text(decl, own.get(name)) for name, decl in declarations.items()),
                ]
            )
    return out.getvalue().encode("utf-8-sig")


__all__ = [
    "EXPORT_COLUMNS",
    "HEADER_ALIASES",
    "CsvFormatError",
    "CsvRow",
    "ImportReport",
    "decode_csv",
    "export_friends",
    "import_friends",
    "parse_csv",
    "read_csv",
]
