"""SQL text for the CrateDB stand-in: errors, tokens, CrateDB's grammar check (cratedb-sqlparse,
generated from CrateDB's ``SqlBaseParser.g4``), parsing helpers, and the translation of CrateDB
expressions to SQLite."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class SQLError(Exception):
    """An error CrateDB reports: the message, its error code and HTTP status."""

    def __init__(self, message: str, code: int = 4000, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def unknown_relation(name: str) -> SQLError:
    # server/src/main/java/io/crate/exceptions/RelationUnknown.java; code 4041 in http.rst.
    return SQLError(f"RelationUnknown[Relation '{name}' unknown]", 4041, 404)


# -- tokens --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*)
    |(?P<str>'(?:[^']|'')*')
    |(?P<qid>"(?:[^"]|"")*")
    |(?P<param>\$\d+|\?)
    |(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>::|<>|!=|>=|<=|\|\||!~\*?|~\*?|[(),.;=<>+\-*/%\[\]])""",
    re.X,
)


@dataclass(frozen=True)
class Tok:
    kind: str  # str, qid, param, num, word, op
    text: str

    @property
    def ident(self) -> str | None:
        """The identifier this token names (unquoted words fold to lower case), or None."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "qid":
            return self.text[1:-1].replace('""', '"')
        return None

    def is_(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(sql: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            raise SQLError(f"SQLParseException[the stand-in cannot read {sql[pos : pos + 20]!r}]")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Tok(kind, m.group()))
    while out and out[-1].text == ";":
        out.pop()
    return out


def string_value(tok: Tok) -> str:
    return tok.text[1:-1].replace("''", "'")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=4096)
def check_syntax(sql: str) -> None:
    """Parse ``sql`` with cratedb-sqlparse (CrateDB's grammar, SqlBaseParser.g4)."""
    from cratedb_sqlparse import sqlparse

    try:
        statements = sqlparse(sql, raise_exception=True)
    except Exception as e:
        # docs/interfaces/http.rst: an analysis error fails the whole request (4000).
        raise SQLError(f"SQLParseException[{e}]") from None
    if len(statements) != 1:
        raise SQLError("SQLParseException[exactly one statement per request is allowed]")


def table_name(toks: list[Tok], i: int) -> tuple[str, int]:
    """A (maybe schema-qualified) table name at ``toks[i]``: the name and the next index."""
    name = toks[i].ident or ""
    if i + 2 < len(toks) and toks[i + 1].text == ".":
        return toks[i + 2].ident or "", i + 3
    return name, i + 1


def parenthesized(toks: list[Tok], i: int) -> tuple[list[Tok], int]:
    if toks[i].text != "(":
        raise SQLError(f"SQLParseException[expected ( at {toks[i].text}]")
    depth = 0
    for j in range(i, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j].text, 0) if toks[j].kind == "op" else 0
        if depth == 0:
            return toks[i + 1 : j], j + 1
    raise SQLError("SQLParseException[unbalanced parentheses]")


def split_commas(toks: list[Tok]) -> list[list[Tok]]:
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
        if depth == 0 and t.text == "," and t.kind == "op":
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def parse_settings(toks: list[Tok]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in split_commas(toks):
        key = part[0].ident or ""
        value: Any = part[2].text
        if part[2].kind == "str":
            value = string_value(part[2])
        elif part[2].kind == "num":
            value = int(float(value))
        out[key] = value
    return out


def top_level_where(toks: list[Tok]) -> list[Tok] | None:
    """The tokens of a SELECT's WHERE clause (up to ORDER/GROUP/LIMIT), None without one."""
    depth = 0
    start = None
    for j, t in enumerate(toks):
        if t.kind == "op" and t.text in "()":
            depth += 1 if t.text == "(" else -1
        elif depth == 0 and t.is_("WHERE"):
            start = j + 1
        elif depth == 0 and start is not None and t.is_("ORDER", "GROUP", "LIMIT", "HAVING"):
            return toks[start:j]
    return toks[start:] if start is not None else None


def translate(toks: list[Tok]) -> str:
    """CrateDB expression tokens as SQLite SQL: ``$n`` parameters, subscripts of object columns
    (``col['a']['b']``) as json_extract, ``!~`` as NOT REGEXP, schema ``doc.`` dropped."""
    out: list[str] = []
    n_param = 0
    j = 0
    while j < len(toks):
        t = toks[j]
        if t.kind == "param":
            if t.text == "?":
                n_param += 1
                out.append(f"?{n_param}")
            else:
                out.append("?" + t.text[1:])
        elif t.ident == "doc" and j + 1 < len(toks) and toks[j + 1].text == ".":
            j += 2
            continue
        elif t.text == "[" and out:
            keys = []
            while j < len(toks) and toks[j].text == "[":
                keys.append(string_value(toks[j + 1]) if toks[j + 1].kind == "str" else None)
                j += 3
            if None in keys:
                raise SQLError("UnsupportedFeatureException[the stand-in subscripts by name only]")
            base = out.pop()
            if out and out[-1] == ".":
                out.pop()
                base = out.pop() + "." + base
            path = "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys)
            out.append(f"json_extract({base}, '{path}')")
            continue
        elif t.text in ("!~", "!~*"):
            out.append("NOT REGEXP")
        elif t.text in ("~", "~*"):
            out.append("REGEXP")
        elif t.is_("ILIKE"):
            out.append("LIKE")
        elif t.kind == "word" and t.text.upper() in ("TRUE", "FALSE"):
            out.append("1" if t.text.upper() == "TRUE" else "0")
        elif t.kind == "word":
            out.append(t.text)
        else:
            out.append(t.text)
        j += 1
    return " ".join(out).replace(" . ", ".")


def select_items(toks: list[Tok]) -> list[list[Tok]]:
    """The items of a SELECT list (between SELECT [DISTINCT] and the top-level FROM)."""
    depth = 0
    start = 2 if len(toks) > 1 and toks[1].is_("DISTINCT") else 1
    for j, t in enumerate(toks):
        if t.kind == "op" and t.text in "()":
            depth += 1 if t.text == "(" else -1
        elif depth == 0 and t.is_("FROM"):
            return split_commas(toks[start:j])
    return split_commas(toks[start:])


def param_positions(items: list[list[Tok]]) -> list[int] | None:
    """The argument index of each VALUES item when every item is one parameter, else None."""
    positions = []
    n_question = 0
    for item in items:
        if len(item) != 1 or item[0].kind != "param":
            return None
        if item[0].text == "?":
            positions.append(n_question)
            n_question += 1
        else:
            positions.append(int(item[0].text[1:]) - 1)
    return positions
