"""The passes that turn a parsed item tree into a :class:`RecordLayout`, each a small function.

Order matters and is written once, in :func:`build_record`:

0. ``count_columns``: a record of no field, or of more columns than any table holds, is refused.
1. ``inherit_usage``: a group's USAGE and SIGN apply to the items under it.
2. ``place``: byte sizes and offsets; REDEFINES overlays, SYNC slack, OCCURS extents.
3. ``check_variable_tables``: OCCURS DEPENDING ON forms that cannot be read exactly are refused.
4. ``flatten``: one leaf per OCCURS index, with its overlay branches and variable table.
5. ``name_columns``: lower-case names, repeated leaves prefixed by a group, index suffixes.
6. ``drop_fillers``: FILLER takes bytes but is not loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mfpipe.errors import LayoutError, UnsupportedLayoutError
from mfpipe.layout.parser import Item
from mfpipe.layout.picture import parse_picture
from mfpipe.layout.types import (Category, Field, OccursDependingOn, RecordLayout, SignPosition,
                                 Usage)

_BINARY_SIZES = ((4, 2), (9, 4), (18, 8))
MAX_COLUMNS = 20_000  # more than any database holds in one table (PostgreSQL: 1,600)
MAX_RECORD_BYTES = 16 << 20  # far beyond any data set's records (32,760 bytes, spanned aside)
# the lineage columns of staging and final tables: a field with one of these names is loaded
# as cobol_<name> (documented), never a second column of that name
RESERVED = frozenset({"run_id", "worker_id", "chunk_id", "record_no", "last_run_id"})
_ALIGN = {Usage.COMP_1: 4, Usage.COMP_2: 8}


def inherit_usage(item: Item, usage: Usage | None = None, sign: SignPosition | None = None) -> Item:
    """Pass a group's USAGE and SIGN clauses down to every item that does not set its own."""
    usage = item.usage or usage
    sign = item.sign or sign
    if item.is_group:
        children = tuple(inherit_usage(child, usage, sign) for child in item.children)
        return replace(item, usage=usage, sign=sign, children=children)
    if usage is None and item.picture is not None and item.picture.category is Category.NATIONAL:
        usage = Usage.NATIONAL
    if item.picture is not None and not item.picture.signed:
        sign = item.sign  # a group's SIGN clause applies to its signed items only
    return replace(item, usage=usage or Usage.DISPLAY, sign=sign)


def elementary_size(item: Item, layout: str) -> int:
    """Bytes of one occurrence of an elementary item, from its picture and usage."""
    usage, picture = item.usage, item.picture
    if usage is Usage.COMP_1:
        return 4
    if usage is Usage.COMP_2:
        return 8
    if item.is_pointer:
        return 4
    if picture is None:
        raise LayoutError(layout, f"{item.name} at line {item.line} has no PIC")
    if usage is Usage.COMP_3:
        return picture.digits // 2 + 1
    if usage is Usage.COMP_3U:
        return (picture.digits + 1) // 2
    if usage in (Usage.COMP, Usage.COMP_5):
        for limit, size in _BINARY_SIZES:
            if picture.digits <= limit:
                return size
        raise LayoutError(layout, f"{item.name} at line {item.line}: binary fields hold at most "
                                  f"18 digits, PIC {picture.text} has {picture.digits}")
    if item.sign is not None and picture.category is Category.NUMERIC and not picture.signed:
        raise UnsupportedLayoutError(layout, item.line, item.column, item.name,
                                     f"SIGN needs a signed picture (S9...), PIC {picture.text} "
                                     "has no S")
    separate = item.sign in (SignPosition.LEADING_SEPARATE, SignPosition.TRAILING_SEPARATE)
    return picture.size + (1 if separate and picture.category is Category.NUMERIC else 0)


def _alignment(item: Item) -> int:
    if not item.sync or item.is_group:
        return 1
    if item.usage in _ALIGN:
        return _ALIGN[item.usage]
    return elementary_size(item, "") if item.usage in (Usage.COMP, Usage.COMP_5) else 1


def place(item: Item, offset: int, layout: str) -> Item:
    """Give every item its offset (from the record start) and the size of one occurrence."""
    if not item.is_group:
        align = _alignment(item)
        offset += -offset % align
        return replace(item, offset=offset, size=elementary_size(item, layout))
    placed: list[Item] = []
    cursor = offset
    for child in item.children:
        if child.redefines:
            target = next((p for p in reversed(placed) if p.name == child.redefines), None)
            if target is None:
                raise LayoutError(layout, f"{child.name} at line {child.line} REDEFINES "
                                          f"{child.redefines}, which is not an earlier sibling")
            done = place(child, target.offset, layout)
        else:
            done = place(child, cursor, layout)
        placed.append(done)
        cursor = max(cursor, done.offset + done.size * done.occurs)
    return replace(item, offset=offset, size=cursor - offset, children=tuple(placed))


@dataclass(frozen=True, slots=True)
class Leaf:
    """An elementary item at one OCCURS index, before it is named."""

    item: Item
    path: tuple[Item, ...]  # enclosing groups, outermost first
    offset: int
    occurs: tuple[int, ...]
    branches: tuple[str, ...]
    odo: OccursDependingOn | None
    redefining: bool


def flatten(root: Item) -> list[Leaf]:
    """Every elementary item at every OCCURS index, with its overlay branches and variable table."""
    leaves: list[Leaf] = []
    _walk(root, (), 0, (), (), None, False, leaves)
    return leaves


def check_variable_tables(root: Item, layout: str) -> None:
    """Refuse the OCCURS DEPENDING ON forms mfpipe cannot read exactly, naming the entry.

    Supported: variable tables of fixed-size elements, the items after them shifting with the
    count (IBM's variably located items). Refused: a variable table inside another table (its
    elements would vary in size), a count inside its own table or after it, and a count that
    is not an integer numeric item.
    """
    items = _descendants(root)
    for table in (item for item in items if item.depending_on):
        inner = [i for i in _descendants(table) if i is not table]

        def refuse(message: str, at: Item = table) -> UnsupportedLayoutError:
            return UnsupportedLayoutError(layout, at.line, at.column, at.name, message)

        nested = next((i for i in inner if i.depending_on), None)
        if nested is not None:
            raise refuse(f"a variable table (OCCURS DEPENDING ON) inside the variable table "
                         f"{table.name} is not supported", nested)
        named = [i for i in items if i.name == table.depending_on]
        if not named:
            raise refuse(f"DEPENDING ON {table.depending_on} names no item of the record")
        before = [i for i in named if i not in inner and i.offset < table.offset]
        if not before:
            raise refuse(f"the count {table.depending_on} must come before the table it sizes")
        count = before[-1]
        picture = count.picture
        if count.is_group or picture is None or picture.category is not Category.NUMERIC \
                or picture.scale > 0:
            raise refuse(f"the count {count.name} must be an integer numeric item")
    for table in (item for item in items if item.occurs > 1 and not item.depending_on):
        nested = next((i for i in _descendants(table) if i.depending_on), None)
        if nested is not None:
            raise UnsupportedLayoutError(
                layout, nested.line, nested.column, nested.name,
                f"a variable table inside the table {table.name} (OCCURS {table.occurs}) is "
                "not supported")


def _descendants(item: Item) -> list[Item]:
    """The item and every item under it, in declaration order."""
    found = [item]
    for child in item.children:
        found += _descendants(child)
    return found


def _walk(item: Item, path: tuple[Item, ...], shift: int, occurs: tuple[int, ...],
          branches: tuple[str, ...], odo: OccursDependingOn | None, redefining: bool,
          out: list[Leaf]) -> None:
    if item.is_filler and not item.is_group:  # takes bytes (placed already), never a column
        return
    redefining = redefining or bool(item.redefines)
    if item.depending_on:
        odo = OccursDependingOn(item.depending_on, item.offset + shift, item.size,
                                item.occurs, item.occurs_min)
    for index in range(1, item.occurs + 1):
        here = occurs + ((index,) if item.occurs > 1 or item.depending_on else ())
        moved = shift + (index - 1) * item.size
        if not item.is_group:
            out.append(Leaf(item, path, item.offset + moved, here, branches, odo, redefining))
            continue
        overlaid = {c.redefines for c in item.children if c.redefines}
        for child in item.children:
            in_overlay = child.redefines or child.name in overlaid
            _walk(child, path + (item,), moved, here,
                  branches + ((child.name,) if in_overlay else ()), odo, redefining, out)


def _base_name(name: str) -> str:
    base = re.sub(r"[^0-9a-z_]", "_", name.lower().replace("-", "_"))
    return f"cobol_{base}" if base in RESERVED else base


def name_columns(leaves: list[Leaf], layout: str) -> dict[int, str]:
    """Column names keyed by ``id(leaf.item)``; repeated leaf names get their group's name."""
    items = {id(leaf.item): leaf for leaf in leaves if not leaf.item.is_filler}
    by_name: dict[str, list[Leaf]] = {}
    for leaf in items.values():
        by_name.setdefault(_base_name(leaf.item.name), []).append(leaf)
    names = {key: _base_name(leaf.item.name) for key, leaf in items.items()}
    for base, group in by_name.items():
        if len(group) < 2:
            continue
        for leaf in group:
            names[id(leaf.item)] = _unique_prefix(leaf, base, group)
    taken: dict[str, str] = {}
    for key, name in names.items():
        if name in taken:
            raise LayoutError(layout, f"column name {name} is given to both {taken[name]} and "
                                      f"{items[key].item.name} (line {items[key].item.line})")
        taken[name] = items[key].item.name
    return names


def _unique_prefix(leaf: Leaf, base: str, group: list[Leaf]) -> str:
    """The nearest enclosing group whose name, as a prefix, tells this leaf from its namesakes."""
    others = [other for other in group if other is not leaf]
    for ancestor in reversed(leaf.path):
        if ancestor.is_filler:
            continue
        if all(ancestor not in other.path for other in others):
            return f"{_base_name(ancestor.name)}_{base}"
    return "_".join([_base_name(a.name) for a in leaf.path if not a.is_filler] + [base])


def count_columns(item: Item, layout: str) -> int:
    """The columns a record would have; refused beyond ``MAX_COLUMNS`` before any is built
    (``OCCURS 99999999`` would otherwise never finish)."""
    def count(node: Item) -> int:
        own = 0 if node.is_filler and not node.is_group else 1
        inner = sum(count(child) for child in node.children) if node.is_group else own
        return inner * node.occurs

    total = count(item)
    if total > MAX_COLUMNS:
        raise LayoutError(layout, f"record {item.name} would have {total:,} columns, more than "
                                  f"{MAX_COLUMNS:,}: check its OCCURS counts")
    if total == 0:
        raise LayoutError(layout, f"record {item.name} (line {item.line}) has no elementary "
                                  "item to load")
    return total


def build_record(root: Item, renames: dict[str, tuple[str, str]], path: str) -> RecordLayout:
    """Run the passes in order and return the record's loaded fields."""
    count_columns(root, path)
    placed = place(inherit_usage(root), 0, path)
    if placed.size * placed.occurs > MAX_RECORD_BYTES:  # before any occurrence is built
        raise LayoutError(path, f"record {root.name} is {placed.size * placed.occurs:,} bytes, "
                                f"more than {MAX_RECORD_BYTES:,}: check its PIC and OCCURS")
    check_variable_tables(placed, path)
    leaves = flatten(placed)
    names = name_columns(leaves, path)
    columns_by_cobol = {leaf.item.name: names[id(leaf.item)] for leaf in leaves
                        if not leaf.item.is_filler}
    fields = [_to_field(leaf, names[id(leaf.item)], columns_by_cobol, path)
              for leaf in leaves if not leaf.item.is_filler]
    branches = tuple(dict.fromkeys(b for f in fields for b in f.redefines))
    tables = tuple(sorted((OccursDependingOn(columns_by_cobol[t.depending_on], t.offset, t.size,
                                             t.occurs, t.occurs_min)
                           for t in _descendants(placed)
                           if t.depending_on and t.depending_on in columns_by_cobol),
                          key=lambda t: t.offset))
    return RecordLayout(name=root.name, table=_base_name(root.name),
                        size=placed.size * placed.occurs,
                        fields=tuple(sorted(fields, key=lambda f: f.offset)),
                        redefine_branches=branches, renames=dict(renames), source=path,
                        tables=tables)


def _to_field(leaf: Leaf, base: str, columns: dict[str, str], path: str) -> Field:
    item = leaf.item
    picture = item.picture
    column = base + "".join(f"_{i}" for i in leaf.occurs)
    odo = leaf.odo
    if odo is not None:
        if odo.count_column not in columns:
            raise LayoutError(path, f"{item.name}: DEPENDING ON {odo.count_column} names no field")
        odo = replace(odo, count_column=columns[odo.count_column])
    if item.usage in (Usage.COMP_1, Usage.COMP_2):
        category, digits, scale, signed = Category.FLOAT, 0, 0, True
    elif item.is_pointer:
        category, digits, scale, signed = Category.NUMERIC, 9, 0, True
        picture = parse_picture("S9(9)")
    else:
        assert picture is not None  # elementary_size has checked it
        category, digits, scale, signed = (picture.category, picture.digits, picture.scale,
                                           picture.signed)
    sign = SignPosition.NONE
    if category is Category.NUMERIC and item.usage is Usage.DISPLAY and signed:
        sign = item.sign or SignPosition.TRAILING
    return Field(name=item.name, column=column, level=item.level, offset=leaf.offset,
                 size=item.size, usage=item.usage or Usage.DISPLAY, category=category,
                 picture=picture.text if picture else "", digits=digits, scale=scale,
                 signed=signed, sign_position=sign, occurs=leaf.occurs, redefines=leaf.branches,
                 redefining=leaf.redefining, odo=odo, conditions=item.conditions,
                 justified=item.justified,
                 blank_when_zero=item.blank_when_zero, line_no=item.line)
