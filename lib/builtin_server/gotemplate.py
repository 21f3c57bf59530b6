"""The Go-template subset Ollama's prompt templates use, parsed and rendered as Go's text/template does.

Supported: text with `{{- -}}` trimming, comments, `{{ .Field }}` chains, variables (`$`, `$x`,
`$x := ...`, `$x = ...`), `if`/`else if`/`else`/`end`, `range` (with `$i, $m :=`, and `else`), `with`,
parenthesised pipelines, `|` pipes, string/number/bool literals and the functions `and or not eq ne lt
le gt ge len slice index print json currentDate yesterdayDate`. The data are Ollama's: `.System`,
`.Prompt`, `.Response`, `.Suffix`, `.Messages` (each `.Role`, `.Content`, `.Thinking`, `.ToolCalls`,
`.Images`, `.ToolName`), `.Tools`, `.Think`, `.ThinkLevel`, `.IsThinkSet`.

Anything else (other functions, `define`/`template`/`block`, `break`/`continue`, printf, unknown
fields) is refused by `parse` with TemplateError: this module never renders a template it does not
understand. `render_prompt` applies Ollama's rules (template/template.go Execute): a template that
mentions `.Messages` gets the whole conversation at once; an older one is run once per turn with
`.System`/`.Prompt`/`.Response`, the last turn cut after `{{ .Response }}`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any, Iterable, Sequence


class TemplateError(ValueError):
    """The template cannot be parsed or rendered faithfully here."""


ROOT_FIELDS = frozenset({"System", "Prompt", "Response", "Suffix", "Messages", "Tools", "Think", "ThinkLevel",
                         "IsThinkSet"})
MESSAGE_FIELDS = frozenset({"Role", "Content", "Thinking", "ToolCalls", "Images", "ToolName"})
FUNCTIONS = frozenset({"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "slice", "index", "print",
                       "json", "currentDate", "yesterdayDate"})
REFUSED_FUNCTIONS = frozenset({"printf", "println", "html", "js", "urlquery", "call", "toTypeScriptType"})
_TRIM = " \t\r\n"


# --- syntax tree -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Text:
    text: str


@dataclasses.dataclass
class Field:  # .A.B (relative to dot); chain () is the dot itself
    chain: tuple[str, ...]


@dataclasses.dataclass
class Var:  # $ or $x, then an optional .A.B
    name: str
    chain: tuple[str, ...] = ()


@dataclasses.dataclass
class Literal:
    value: Any


@dataclasses.dataclass
class Func:
    name: str


@dataclasses.dataclass
class Pipe:
    commands: list[list[Any]]  # each command: its operands (the first may be a Func)
    declare: tuple[str, ...] = ()
    assign: bool = False  # `$x = ...` rather than `$x := ...`


@dataclasses.dataclass
class Action:
    pipe: Pipe


@dataclasses.dataclass
class Branch:  # if / range / with
    kind: str
    pipe: Pipe
    body: list
    otherwise: list | None = None


# --- lexing and parsing ----------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.S)
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<num>[-+]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<pipe>\|)
  | (?P<comma>,)
""", re.X)


def _tokens(source: str, where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, previous_end = 0, -1
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m:
            raise TemplateError(f"{where}: unexpected {source[pos:pos + 10]!r} in action")
        kind, text = m.lastgroup, m.group()
        adjacent = m.start() == previous_end
        pos = m.end()
        if kind == "ws":
            continue
        previous_end = m.end()
        if kind == "field" and adjacent and out and out[-1][0] == "var":
            out[-1] = ("var", out[-1][1] + text)  # $x.Field, $.Messages
            continue
        if kind == "field" and adjacent and out and out[-1][0] == "close":
            raise TemplateError(f"{where}: a field of a parenthesised pipeline is not supported by the built-in server")
        out.append((kind, text))
    return out


def _go_string(token: str, where: str) -> str:
    if token[0] == "`":
        return token[1:-1]
    try:
        return json.loads(token)
    except ValueError:
        # Go escapes JSON lacks: \a \v \x.. \' and octal; decode the common ones
        try:
            return token[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        except (UnicodeDecodeError, UnicodeEncodeError):
            raise TemplateError(f"{where}: bad string literal {token}") from None


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.items: list[tuple[str, Any]] = []  # ("text", str) or ("action", tokens, line)
        self._split()
        self.pos = 0
        self.variables: list[set[str]] = [{"$"}]

    def _split(self) -> None:
        pos = 0
        pieces: list[list] = []
        for m in _ACTION.finditer(self.source):
            text = self.source[pos:m.start()]
            if m.group(1):
                text = text.rstrip(_TRIM)
            pieces.append(["text", text])
            body = m.group(2)
            line = self.source.count("\n", 0, m.start()) + 1
            if m.group(1) is None and body.startswith("-") and body[1:2] in ("", "}"):
                raise TemplateError(f"template: :{line}: unexpected \"-\" in command")
            pieces.append(["action", body, line, bool(m.group(3))])
            pos = m.end()
        if "{{" in self.source[pos:]:
            line = self.source.count("\n", 0, pos) + 1
            raise TemplateError(f"template: :{line}: unclosed action")
        pieces.append(["text", self.source[pos:]])
        for i, piece in enumerate(pieces):
            if piece[0] == "action" and piece[3] and i + 1 < len(pieces):
                pieces[i + 1][1] = pieces[i + 1][1].lstrip(_TRIM)
        for piece in pieces:
            if piece[0] == "text":
                if piece[1]:
                    self.items.append(("text", piece[1]))
            else:
                body, line = piece[1].strip(_TRIM), piece[2]
                if body.startswith("/*"):
                    if not body.endswith("*/"):
                        raise TemplateError(f"template: :{line}: unclosed comment")
                    continue
                self.items.append(("action", _tokens(body, f"template: :{line}"), line))

    # a list of nodes up to one of the `stops` keywords (end, else); returns (nodes, stop, rest tokens)
    def parse_list(self, stops: tuple[str, ...]) -> tuple[list, str | None, list, int]:
        nodes: list = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if item[0] == "text":
                nodes.append(Text(item[1]))
                continue
            tokens, line = item[1], item[2]
            where = f"template: :{line}"
            if not tokens:
                raise TemplateError(f"{where}: missing value for command")
            head = tokens[0]
            keyword = head[1] if head[0] == "ident" else None
            if keyword in ("end", "else"):
                if keyword not in stops:
                    raise TemplateError(f"{where}: unexpected {{{{{keyword}}}}}")
                return nodes, keyword, tokens[1:], line
            if keyword in ("if", "range", "with"):
                nodes.append(self.parse_branch(keyword, tokens[1:], line))
            elif keyword in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f"{where}: {{{{{keyword}}}}} is not supported by the built-in server")
            elif keyword == "nil" and len(tokens) == 1:
                raise TemplateError(f"{where}: nil is not a command")
            else:
                nodes.append(Action(self.parse_pipe(tokens, where, declare_ok=True)))
        if stops:
            raise TemplateError("template: :1: unexpected EOF")
        return nodes, None, [], 0

    def parse_branch(self, kind: str, tokens: list, line: int) -> Branch:
        where = f"template: :{line}"
        self.variables.append(set())
        pipe = self.parse_pipe(tokens, where, declare_ok=True, range_decl=kind == "range")
        if not pipe.commands:
            raise TemplateError(f"{where}: missing value for {kind}")
        body, stop, rest, stop_line = self.parse_list(("end", "else"))
        otherwise = None
        if stop == "else":
            if kind == "if" and rest[:1] == [("ident", "if")]:
                # `else if` is an if nested in the else list that shares the outer {{end}}, as Go parses it
                otherwise = [self.parse_branch("if", rest[1:], stop_line)]
            else:
                if rest:
                    raise TemplateError(f"template: :{stop_line}: unexpected {rest[0][1]} in else")
                otherwise, _, rest, end_line = self.parse_list(("end",))
                if rest:
                    raise TemplateError(f"template: :{end_line}: unexpected {rest[0][1]} in end")
        elif rest:
            raise TemplateError(f"template: :{stop_line}: unexpected {rest[0][1]} in end")
        self.variables.pop()
        return Branch(kind, pipe, body, otherwise)

    def parse_pipe(self, tokens: list, where: str, declare_ok: bool = False, range_decl: bool = False) -> Pipe:
        declare: tuple[str, ...] = ()
        assign = False
        # $x :=  /  $x =  /  $i, $x :=
        if declare_ok and tokens and tokens[0][0] == "var":
            if len(tokens) > 1 and tokens[1][0] in ("declare", "assign"):
                declare, assign, tokens = (tokens[0][1],), tokens[1][0] == "assign", tokens[2:]
            elif range_decl and len(tokens) > 3 and tokens[1][0] == "comma" and tokens[2][0] == "var" \
                    and tokens[3][0] in ("declare", "assign"):
                declare, assign, tokens = (tokens[0][1], tokens[2][1]), tokens[3][0] == "assign", tokens[4:]
        for name in declare:
            if assign:
                if not any(name in scope for scope in self.variables):
                    raise TemplateError(f'{where}: undefined variable "{name}"')
            else:
                self.variables[-1].add(name)
        commands: list[list[Any]] = []
        current: list[Any] = []
        i = 0
        while i < len(tokens):
            kind, text = tokens[i]
            if kind == "pipe":
                if not current:
                    raise TemplateError(f"{where}: missing command before |")
                commands.append(current)
                current = []
                i += 1
                continue
            if kind == "open":
                depth, j = 1, i + 1
                while j < len(tokens) and depth:
                    depth += {"open": 1, "close": -1}.get(tokens[j][0], 0)
                    j += 1
                if depth:
                    raise TemplateError(f"{where}: unclosed left paren")
                current.append(self.parse_pipe(tokens[i + 1:j - 1], where))
                i = j
                continue
            current.append(self.operand(kind, text, where))
            i += 1
        if current:
            commands.append(current)
        elif commands:
            raise TemplateError(f"{where}: missing command after |")
        for command in commands:
            if isinstance(command[0], Func):
                continue
            if len(command) > 1:
                raise TemplateError(f"{where}: can't give arguments to a non-function")
        if declare and not commands:
            raise TemplateError(f"{where}: missing value for command")
        return Pipe(commands, declare, assign)

    def operand(self, kind: str, text: str, where: str) -> Any:
        if kind == "field":
            chain = tuple(text[1:].split("."))
            self._check_fields(chain, where)
            return Field(chain)
        if kind == "dot":
            return Field(())
        if kind == "var":
            name, _, rest = text.partition(".")
            if not any(name in scope for scope in self.variables):
                raise TemplateError(f'{where}: undefined variable "{name}"')
            chain = tuple(rest.split(".")) if rest else ()
            self._check_fields(chain, where)
            return Var(name, chain)
        if kind in ("str", "raw"):
            return Literal(_go_string(text, where))
        if kind == "num":
            clean = text.replace("_", "")
            try:
                return Literal(int(clean, 0))
            except ValueError:
                try:
                    return Literal(float(clean))
                except ValueError:
                    raise TemplateError(f"{where}: bad number syntax: {text!r}") from None
        if kind == "ident":
            if text in ("true", "false"):
                return Literal(text == "true")
            if text == "nil":
                return Literal(None)
            if text in FUNCTIONS:
                return Func(text)
            if text in REFUSED_FUNCTIONS:
                raise TemplateError(f'{where}: function "{text}" is not supported by the built-in server')
            raise TemplateError(f'{where}: function "{text}" not defined')
        if kind == "char":
            raise TemplateError(f"{where}: character constants are not supported by the built-in server")
        raise TemplateError(f"{where}: unexpected {text!r} in command")

    @staticmethod
    def _check_fields(chain: tuple[str, ...], where: str) -> None:
        for name in chain:
            if name not in ROOT_FIELDS and name not in MESSAGE_FIELDS:
                raise TemplateError(
                    f"{where}: the field .{name} is not one of Ollama's template variables "
                    f"({', '.join('.' + f for f in sorted(ROOT_FIELDS | MESSAGE_FIELDS))})")


@dataclasses.dataclass
class Template:
    source: str
    nodes: list

    @property
    def identifiers(self) -> set[str]:
        """Lower-cased names of every field and variable field, as Ollama's Template.Vars()."""
        names: set[str] = set()

        def pipe(p: Pipe) -> None:
            for command in p.commands:
                for arg in command:
                    if isinstance(arg, Field):
                        names.update(n.lower() for n in arg.chain)
                    elif isinstance(arg, Var):
                        names.add(arg.name.lower())
                        names.update(n.lower() for n in arg.chain)
                    elif isinstance(arg, Pipe):
                        pipe(arg)

        def walk(nodes: Iterable) -> None:
            for node in nodes:
                if isinstance(node, Action):
                    pipe(node.pipe)
                elif isinstance(node, Branch):
                    pipe(node.pipe)
                    walk(node.body)
                    walk(node.otherwise or [])
        walk(self.nodes)
        return names


def parse(source: str) -> Template:
    """Parse a template or raise TemplateError with what is wrong (Go's wording where it has one)."""
    if not isinstance(source, str):
        raise TemplateError("a template must be a string")
    parser = _Parser(source)
    nodes, _, _, _ = parser.parse_list(())
    template = Template(source, nodes)
    if "messages" not in template.identifiers and "response" not in template.identifiers:
        template.nodes = [*nodes, Action(Pipe([[Field(("Response",))]]))]  # Ollama appends {{ .Response }}
    return template


# --- evaluation ------------------------------------------------------------------------------------

class _Missing:
    """Go's zero reflect.Value (a missing map key with missingkey=zero): prints `<no value>`."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


def truth(value: Any) -> bool:
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def _basic(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _compare(op: str, a: Any, b: Any) -> bool:
    ka, kb = _basic(a), _basic(b)
    if {ka, kb} <= {"int", "float"}:
        pass
    elif ka != kb or ka == "other":
        if op in ("eq", "ne") and (a is None or b is None):
            return (a is b) == (op == "eq")
        raise TemplateError(f"error calling {op}: incompatible types for comparison")
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if ka == "bool":
        raise TemplateError(f"error calling {op}: invalid type for comparison")
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


def _go_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # Go's json.Marshal escapes <, > and & for HTML safety, and U+2028/U+2029
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _print(value: Any) -> str:
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, list) and not value:
        return "[]"
    raise TemplateError("printing a list or an object is not supported by the built-in server")


class _Scope:
    def __init__(self, parent: _Scope | None = None):
        self.parent = parent
        self.values: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise TemplateError(f'undefined variable "{name}"')

    def set(self, name: str, value: Any) -> None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                scope.values[name] = value
                return
            scope = scope.parent
        raise TemplateError(f'undefined variable "{name}"')


class _Renderer:
    def __init__(self, data: dict):
        self.data = data
        self.out: list[str] = []

    def field(self, value: Any, chain: tuple[str, ...]) -> Any:
        for name in chain:
            if isinstance(value, dict):
                value = value.get(name, MISSING)
            else:
                raise TemplateError(f"can't evaluate field {name} in type {_basic(value)}")
        return value

    def arg(self, node: Any, dot: Any, scope: _Scope) -> Any:
        if isinstance(node, Field):
            return self.field(dot, node.chain)
        if isinstance(node, Var):
            return self.field(scope.get(node.name), node.chain)
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Pipe):
            return self.pipe(node, dot, scope)
        if isinstance(node, Func):
            return self.call(node.name, [], dot, scope, None)
        raise TemplateError(f"cannot evaluate {node!r}")

    def call(self, name: str, args: list, dot: Any, scope: _Scope, final: Any) -> Any:
        def value(i: int) -> Any:
            return self.arg(args[i], dot, scope)

        extra = [] if final is _NONE else [final]
        count = len(args) + len(extra)

        def all_values() -> list:
            return [value(i) for i in range(len(args))] + extra

        if name in ("and", "or"):
            if count < 1:
                raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            result = None
            for i in range(count):
                result = value(i) if i < len(args) else extra[0]
                if truth(result) != (name == "and"):
                    return result
            return result
        values = all_values()
        if name == "not":
            if count != 1:
                raise TemplateError(f"wrong number of args for not: want 1 got {count}")
            return not truth(values[0])
        if name in ("eq", "ne", "lt", "le", "gt", "ge"):
            if name == "eq" and count >= 2:
                return any(_compare("eq", values[0], other) for other in values[1:])
            if count != 2:
                raise TemplateError(f"wrong number of args for {name}: want 2 got {count}")
            return _compare(name, values[0], values[1])
        if name == "len":
            if count != 1 or not isinstance(values[0], (str, list, dict)):
                raise TemplateError("error calling len: len of a value that has no length")
            return len(values[0].encode("utf-8")) if isinstance(values[0], str) else len(values[0])
        if name == "slice":
            if count < 1 or not isinstance(values[0], list):
                raise TemplateError("error calling slice: can only slice lists here")
            bounds = values[1:]
            if len(bounds) > 2 or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                raise TemplateError("error calling slice: bad indexes")
            start = bounds[0] if bounds else 0
            end = bounds[1] if len(bounds) > 1 else len(values[0])
            if not 0 <= start <= end <= len(values[0]):
                raise TemplateError(f"error calling slice: index out of range: {start}")
            return values[0][start:end]
        if name == "index":
            item = values[0] if values else None
            for key in values[1:]:
                if isinstance(item, list) and isinstance(key, int) and 0 <= key < len(item):
                    item = item[key]
                elif isinstance(item, dict) and isinstance(key, str):
                    item = item.get(key, MISSING)
                else:
                    raise TemplateError("error calling index: index out of range")
            return item
        if name == "print":
            parts = [_print(v) for v in values]
            out = ""
            for i, part in enumerate(parts):  # Go's Sprint: a space between operands when neither is a string
                if i and not isinstance(values[i], str) and not isinstance(values[i - 1], str):
                    out += " "
                out += part
            return out
        if name == "json":
            if count != 1:
                raise TemplateError(f"wrong number of args for json: want 1 got {count}")
            return _go_json(None if values[0] is MISSING else values[0])
        if name == "currentDate":
            return dt.date.today().isoformat()
        if name == "yesterdayDate":
            return (dt.date.today() - dt.timedelta(days=1)).isoformat()
        raise TemplateError(f'function "{name}" not defined')

    def pipe(self, pipe: Pipe, dot: Any, scope: _Scope) -> Any:
        result: Any = _NONE
        for command in pipe.commands:
            head = command[0]
            if isinstance(head, Func):
                result = self.call(head.name, command[1:], dot, scope, result)
            else:
                if result is not _NONE:
                    raise TemplateError("can't give arguments to a non-function")
                result = self.arg(head, dot, scope)
        if pipe.declare and len(pipe.declare) == 1:
            if pipe.assign:
                scope.set(pipe.declare[0], result)
            else:
                scope.values[pipe.declare[0]] = result
        return result

    def nodes(self, nodes: Sequence, dot: Any, scope: _Scope) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot, scope)
                if not node.pipe.declare:
                    self.out.append(_print(value))
            else:
                self.branch(node, dot, scope)

    def branch(self, node: Branch, dot: Any, outer: _Scope) -> None:
        scope = _Scope(outer)
        if node.kind == "range":
            declare = node.pipe.declare
            plain = dataclasses.replace(node.pipe, declare=(), assign=False)
            items = self.pipe(plain, dot, scope)
            if isinstance(items, bool) or not isinstance(items, (list, int)) and items not in (None, MISSING):
                raise TemplateError(f"range can't iterate over {_print(items) if isinstance(items, str) else items!r}")
            sequence = list(range(items)) if isinstance(items, int) else list(items or [])
            if not sequence:
                self.nodes(node.otherwise or [], dot, scope)
                return
            for index, element in enumerate(sequence):
                inner = _Scope(scope)
                if len(declare) == 1:
                    self._declare(inner, node.pipe, declare[0], element)
                elif len(declare) == 2:
                    self._declare(inner, node.pipe, declare[0], index)
                    self._declare(inner, node.pipe, declare[1], element)
                self.nodes(node.body, element, inner)
            return
        value = self.pipe(node.pipe, dot, scope)
        if truth(value):
            self.nodes(node.body, value if node.kind == "with" else dot, scope)
        else:
            self.nodes(node.otherwise or [], dot, scope)

    @staticmethod
    def _declare(scope: _Scope, pipe: Pipe, name: str, value: Any) -> None:
        if pipe.assign:
            scope.set(name, value)
        else:
            scope.values[name] = value


_NONE = object()


def execute(template: Template, data: dict) -> str:
    renderer = _Renderer(data)
    root = _Scope()
    root.values["$"] = data
    renderer.nodes(template.nodes, data, root)
    return "".join(renderer.out)


# --- Ollama's rules --------------------------------------------------------------------------------

def _message(m: dict) -> dict:
    return {"Role": m.get("role", ""), "Content": m.get("content") or "", "Thinking": m.get("thinking") or "",
            "ToolCalls": [], "Images": [], "ToolName": m.get("tool_name") or ""}


def collate(messages: Sequence[dict]) -> tuple[str, list[dict]]:
    """Ollama's collate: system texts joined by a blank line; consecutive messages of one role merged."""
    system: list[str] = []
    collated: list[dict] = []
    for m in messages:
        role, content = m.get("role", ""), m.get("content") or ""
        if role == "system":
            system.append(content)
        if collated and collated[-1]["role"] == role and role != "tool":
            collated[-1]["content"] += "\n\n" + content
        else:
            collated.append({**m, "role": role, "content": content})
    return "\n\n".join(system), collated


def _cut_after_response(nodes: list) -> list:
    """Ollama's deleteNode: keep the tree up to the first `.Response` field, delete what follows."""
    cut = False

    def is_response(arg: Any) -> bool:
        return isinstance(arg, Field) and "Response" in arg.chain

    def walk_pipe(pipe: Pipe) -> Pipe | None:
        nonlocal cut
        commands = []
        for command in pipe.commands:
            args = []
            for arg in command:
                if is_response(arg):
                    cut = True
                    args.append(arg)
                elif not cut:
                    args.append(arg)
            if not args:
                return None
            commands.append(args)
        return dataclasses.replace(pipe, commands=commands) if commands else None

    def walk_list(items: list) -> list:
        out = []
        for node in items:
            if cut:
                continue
            if isinstance(node, Action):
                pipe = walk_pipe(node.pipe)
                if pipe is not None:
                    out.append(Action(pipe))
            elif isinstance(node, Branch):
                body = walk_list(node.body)
                otherwise = walk_list(node.otherwise) if node.otherwise is not None and not cut else (
                    [] if node.otherwise is not None else None)
                out.append(Branch(node.kind, node.pipe, body, otherwise))
            else:
                out.append(node)
        return out

    return walk_list(nodes)


def render_prompt(template: Template, messages: Sequence[dict]) -> str:
    """The prompt Ollama builds from `messages` (role/content dicts) with this template."""
    system, collated = collate(messages)
    base = {"Tools": [], "Think": False, "ThinkLevel": "", "IsThinkSet": False, "Suffix": ""}
    if "messages" in template.identifiers:
        return execute(template, {**base, "System": system, "Messages": [_message(m) for m in collated],
                                  "Prompt": "", "Response": ""})
    out: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def flush() -> None:
        out.append(execute(template, {**base, **turn}))
        turn.update(System="", Prompt="", Response="")

    for m in collated:
        role = m["role"]
        if role == "system":
            if turn["Prompt"] or turn["Response"]:
                flush()
            turn["System"] = m["content"]
        elif role == "user":
            if turn["Response"]:
                flush()
            turn["Prompt"] = m["content"]
        elif role == "assistant":
            turn["Response"] = m["content"]
    out.append(execute(Template(template.source, _cut_after_response(template.nodes)), {**base, **turn}))
    return "".join(out)


SAMPLE_CONVERSATIONS = (
    [],
    [{"role": "user", "content": "Hola"}],
    [{"role": "system", "content": "Sé breve."}, {"role": "user", "content": "Hola"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "A"}, {"role": "assistant", "content": "B"},
     {"role": "user", "content": "C"}],
    [{"role": "user", "content": "A"}, {"role": "assistant", "content": "B"}],
    [{"role": "user", "content": "A"}, {"role": "tool", "content": "T"}],
)


def check(source: str) -> Template:
    """Parse, then render sample conversations: a template accepted here renders every request."""
    template = parse(source)
    for conversation in SAMPLE_CONVERSATIONS:
        try:
            render_prompt(template, conversation)
        except TemplateError as exc:
            raise TemplateError(f"template: {exc}") from None
        except (TypeError, ValueError, RecursionError) as exc:  # defensive: never a 500 for a template
            raise TemplateError(f"template: cannot be rendered: {exc}") from None
    return template
