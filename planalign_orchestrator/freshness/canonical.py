"""What of a dbt code file can change a table's rows: its canonical form, and a digest named for it.

Hashing a model's bytes made a reworded description, a new comment or a re-indented
model look like new code, so every simulated year read as stale and the next run
rebuilt them all (minutes on a large census) for nothing. Like SQLMesh, which tells
metadata-only changes from breaking ones, a code file is judged by the form that a
build can see:

- SQL (models, macros). Jinja runs first, so Jinja comments go first, exactly as Jinja
  drops them (`{#-`/`-#}` also trim the whitespace beside them). SQL comments go next,
  found by a tokenizer that knows string literals ('...', E'...', $tag$...$tag$) and
  quoted identifiers, and keeps Jinja tags whole with their own strings: `'--'` is a
  literal, not a comment. A SQL comment that holds a Jinja tag stays, because Jinja
  still runs it (a commented-out `{% if %}` still decides what follows). Whitespace
  counts only where removing it would merge two tokens: between word characters,
  quoted tokens and Jinja tags (whose output is unknown here); indentation, line breaks
  and spaces after commas do not.
- YAML (properties files, dbt_project.yml). Parsed and dumped canonically (sorted keys,
  no comments) without `description`, `docs`, `meta` and tests (`tests`, `data_tests`,
  `unit_tests`), and without column entries left holding only a name: none of these
  changes a table's rows. `vars` is kept whole, since its values are what the SQL reads.
- Anything else (seed CSVs, the census) is judged by its bytes.

Every doubt leans towards stale: what the tokenizer does not recognise (an unterminated
string, a YAML file that does not parse) stays in the canonical form, so a change to it
still counts.

A digest names the form it was made of ("sql-v1:<sha256>"); a bare sha256 is of the
bytes, as every digest was before canonical forms. Digests persisted by an earlier
release are therefore never taken for canonical ones, and a record made from them reads
as fingerprinted differently rather than as changed code. A new rule in a canonical
form must bump its version for the same reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

# -- Jinja ------------------------------------------------------------------------------

_JINJA_STRING = r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\""""
_JINJA_RAW = r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}"
_JINJA_EXPRESSION = r"\{\{(?:" + _JINJA_STRING + r"""|[^'"}]|\}(?!\}))*\}\}"""
_JINJA_STATEMENT = r"\{%(?:" + _JINJA_STRING + r"""|[^'"%]|%(?!\}))*%\}"""
_JINJA_TAG = f"{_JINJA_EXPRESSION}|{_JINJA_STATEMENT}"
_JINJA_COMMENT = r"\{#(?P<trim_before>-?).*?(?P<trim_after>-?)#\}"
_JINJA_LEVEL = re.compile(
    rf"(?P<raw>{_JINJA_RAW})|(?P<tag>{_JINJA_TAG})|(?P<comment>{_JINJA_COMMENT})|(?P<text>[^{{]+|\{{)",
    re.DOTALL,
)
_INSIDE_TAG = re.compile(rf"(?P<quoted>{_JINJA_STRING})|(?P<space>\s+)|(?P<word>\w+)|(?P<other>.)", re.DOTALL)

# -- SQL --------------------------------------------------------------------------------

_SQL_QUOTED = (
    r"[eE]'(?:\\.|''|[^'\\])*(?:'|\Z)"  # E'...': backslash escapes
    r"|'(?:''|[^'])*(?:'|\Z)"
    r'|"(?:""|[^"])*(?:"|\Z)'  # a quoted identifier
    r"|\$(?P<dollar>(?:[A-Za-z_]\w*)?)\$.*?\$(?P=dollar)\$"
)
_SQL_LEVEL = re.compile(
    rf"(?P<raw>{_JINJA_RAW})|(?P<tag>{_JINJA_TAG})|(?P<comment>--[^\n]*|/\*.*?\*/)"
    rf"|(?P<quoted>{_SQL_QUOTED})|(?P<space>\s+)|(?P<word>\w+)|(?P<other>.)",
    re.DOTALL,
)
_JINJA_START = ("{{", "{%")


@dataclass(frozen=True)
class _Token:
    """A piece of canonical text; `joins`: it would merge with a like neighbour if nothing separated them."""

    text: str
    joins: bool


_SPACE = _Token(" ", joins=False)


def canonical_sql(text: str) -> str:
    """A dbt SQL file (model or macro) without comments and without whitespace that cannot matter."""
    return _joined(_sql_tokens(_without_jinja_comments(text)))


def _without_jinja_comments(text: str) -> str:
    """The template as Jinja reads it once its comments are gone (raw blocks and tags untouched)."""
    kept = ""
    trim_next = False
    for match in _JINJA_LEVEL.finditer(text):
        if match["comment"] is not None:
            if match["trim_before"]:
                kept = kept.rstrip()
            trim_next = bool(match["trim_after"])
            continue
        piece = match.group()
        kept += piece.lstrip() if trim_next and match["text"] is not None else piece
        trim_next = False
    return kept


def _sql_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _SQL_LEVEL.finditer(text):
        piece = match.group()
        if match["raw"] is not None:
            tokens.append(_Token(piece, joins=True))
        elif match["tag"] is not None:
            tokens.append(_Token(_joined(_tag_tokens(piece)), joins=True))
        elif match["comment"] is not None:
            tokens.append(_comment_token(piece))
        elif match["space"] is not None:
            tokens.append(_SPACE)
        else:
            tokens.append(_Token(piece, joins=match["other"] is None))
    return tokens


def _comment_token(comment: str) -> _Token:
    """Whitespace, unless Jinja runs inside it: then it stays, its line end included."""
    if not any(start in comment for start in _JINJA_START):
        return _SPACE
    return _Token(comment + "\n" if comment.startswith("--") else comment, joins=True)


def _tag_tokens(tag: str) -> list[_Token]:
    return [
        _SPACE if match["space"] is not None else _Token(match.group(), joins=match["other"] is None)
        for match in _INSIDE_TAG.finditer(tag)
    ]


def _joined(tokens: list[_Token]) -> str:
    """The tokens' text, with one space where whitespace separated two tokens that would merge."""
    parts: list[str] = []
    previous: _Token | None = None
    spaced = False
    for token in tokens:
        if token is _SPACE:
            spaced = True
            continue
        if spaced and previous is not None and previous.joins and token.joins:
            parts.append(" ")
        parts.append(token.text)
        previous, spaced = token, False
    return "".join(parts)


# -- YAML -------------------------------------------------------------------------------

# Keys that document or test a node; none of them changes what a build writes.
_NOT_BUILT_FROM = frozenset({"description", "docs", "meta", "tests", "data_tests", "unit_tests"})
_UNPARSED = "unparsed:"
# libyaml's loader builds the same values ten times faster: an edited properties file is
# parsed by every status check until the next build records its digest.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def canonical_yaml(text: str) -> str:
    """A dbt YAML file's settings that a build reads, as sorted JSON (its text when it does not parse)."""
    try:
        settings = _built_from(yaml.load(text, Loader=_YAML_LOADER))
        return json.dumps(settings, sort_keys=True, default=str, ensure_ascii=False)
    except (yaml.YAMLError, TypeError, RecursionError):  # keys of mixed types; an anchor inside itself
        return _UNPARSED + text


def _built_from(node: object, key: object = None) -> object:
    if isinstance(node, dict):
        return {
            name: value if name == "vars" else _built_from(value, name)
            for name, value in node.items()
            if str(name).removeprefix("+") not in _NOT_BUILT_FROM
        }
    if isinstance(node, list):
        items = [_built_from(item) for item in node]
        return [item for item in items if not _names_only(item)] if key == "columns" else items
    return node


def _names_only(column: object) -> bool:
    """A column entry that, once documentation is gone, says nothing a build reads."""
    return isinstance(column, dict) and set(column) <= {"name"}


# -- digests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CanonicalForm:
    """One kind of code file's canonical form, named with the version of its rules."""

    name: str
    canonical: Callable[[str], str]

    def digest(self, data: bytes) -> str:
        # surrogateescape: any byte sequence round-trips, so no file is unreadable here.
        text = self.canonical(data.decode("utf-8", errors="surrogateescape"))
        return f"{self.name}:{hashlib.sha256(text.encode('utf-8', errors='surrogateescape')).hexdigest()}"


SQL_FORM = CanonicalForm("sql-v1", canonical_sql)
YAML_FORM = CanonicalForm("yaml-v1", canonical_yaml)
_FORMS = {".sql": SQL_FORM, ".yml": YAML_FORM, ".yaml": YAML_FORM}


def form_for(path: Path) -> CanonicalForm | None:
    """The canonical form a file is judged by (None: its bytes)."""
    return _FORMS.get(path.suffix.lower())


def form_of(digest: str) -> str | None:
    """The name of the form a digest was made of (None: the bytes, or no digest at all)."""
    name, separator, _ = digest.partition(":")
    return name if separator else None


def is_of_current_form(path: Path, digest: str) -> bool:
    """Whether `digest` was made of the form `path` is judged by now (for a seed or the census: its bytes)."""
    form = form_for(path)
    return form_of(digest) == (None if form is None else form.name)
