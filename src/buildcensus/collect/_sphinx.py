"""Sphinx settings from `conf.py` by static analysis: the file is parsed, never executed.

A small abstract interpreter walks the module body: it follows assignments, `+=`,
`.append/.extend/.insert/.remove`, list concatenation, comprehensions over literal data, loops
over literal data and constant conditions. Conditions it cannot decide (imports that may fail,
environment variables, `tags.has(...)`) take *both* branches, so extensions added under them
are reported; what it cannot see (star imports, `globals().update(...)`, `exec`, values read
from other files) is listed in `notes` so the record says the answer may be incomplete.
"""

from __future__ import annotations

import ast
import copy
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildcensus.collect._run import ProbeFailure, read_local

MAX_FILE = 4 * 1024 * 1024
MAX_UNROLL = 500
MAX_NOTES = 20
MAX_STEPS = 200_000
MAX_SYNTAX_FIXES = 60

# Sphinx's own themes: when a condition picks between one of these and a third-party theme,
# the third-party theme is what the project installed the package for.
BUILTIN_THEMES = frozenset(
    {
        "default",
        "alabaster",
        "classic",
        "sphinxdoc",
        "scrolls",
        "agogo",
        "traditional",
        "nature",
        "haiku",
        "pyramid",
        "bizstyle",
        "epub",
        "basic",
    }
)
INJECTORS = {"exec", "execfile", "eval", "run_path", "run_module", "setattr"}
STDLIB_STAR_OK = {"os", "os.path", "sys", "math", "datetime", "time", "re"}


class Unknown:
    """A value the reader cannot know without running the code."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unknown {self.reason}>"


class Module:
    """A name bound by an import."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<module {self.name}>"


@dataclass(frozen=True)
class Choice:
    """One of several values, depending on a condition the reader could not decide."""

    options: tuple[Any, ...]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET = _Unset()


@dataclass
class SphinxSettings:
    """What conf.py says about extensions and the HTML theme, and what it could not see."""

    extensions: list[str] = field(default_factory=list)
    theme: str | None = None
    notes: list[str] = field(default_factory=list)
    conditional: list[str] = field(default_factory=list)


class _Stop(Exception):
    """Too much work: the file is pathological."""


def _truth(value: Any) -> bool | None:
    """Python truthiness, or None when it cannot be known."""
    if isinstance(value, Unknown | Module | _Unset):
        return True if isinstance(value, Module) else None
    if isinstance(value, Choice):
        truths = {_truth(v) for v in value.options}
        return truths.pop() if len(truths) == 1 else None
    try:
        return bool(value)
    except Exception:
        return None


def _key(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | type(None)):
        return (type(value).__name__, value)
    return ("id", id(value))


def _union(a: list[Any], b: list[Any]) -> list[Any]:
    out = list(a)
    seen = {_key(v) for v in a}
    for v in b:
        if _key(v) not in seen:
            seen.add(_key(v))
            out.append(v)
    return out


def join(a: Any, b: Any) -> Any:
    """The value of a name after two branches that may each have run."""
    if a is UNSET:
        return b
    if b is UNSET:
        return a
    if isinstance(a, list) and isinstance(b, list):
        return a if a == b else _union(a, b)
    try:
        if type(a) is type(b) and a == b:
            return a
    except Exception:
        pass
    opts: list[Any] = []
    for v in (a, b):
        opts = _union(opts, list(v.options) if isinstance(v, Choice) else [v])
    return opts[0] if len(opts) == 1 else Choice(tuple(opts))


def as_list(value: Any) -> list[Any] | None:
    """A sequence value as a list (a Choice of lists as their union), else None."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, Choice):
        out: list[Any] = []
        for v in value.options:
            lst = as_list(v)
            if lst is None:
                return None
            out = _union(out, lst)
        return out
    return None


_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_STR_METHODS = {"split", "strip", "lstrip", "rstrip", "lower", "upper", "replace", "format"}


def _known(value: Any) -> bool:
    if isinstance(value, str | int | float | bool | bytes | type(None)):
        return True
    if isinstance(value, list | tuple):
        return all(_known(v) for v in value)
    if isinstance(value, dict):
        return all(_known(k) and _known(v) for k, v in value.items())
    return False


class _Reader:
    def __init__(self, source: str, label: str) -> None:
        self.source = source
        self.label = label
        self.state: dict[str, Any] = {}
        self.notes: list[str] = []
        self.conditional: list[str] = []
        self.injected = False
        self.uncertain = 0
        self.steps = 0
        self.setup_extensions: list[str] = []

    # ------------------------------------------------------------------ notes

    def note(self, node: ast.AST | None, message: str) -> None:
        where = f"{self.label}:{node.lineno}" if hasattr(node, "lineno") else self.label
        line = f"{where}: {message}"
        if line not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(line)

    def snippet(self, node: ast.AST) -> str:
        try:
            text = ast.unparse(node)
        except Exception:
            text = type(node).__name__
        text = " ".join(text.split())
        return text if len(text) <= 80 else text[:77] + "..."

    # ------------------------------------------------------------------ statements

    def run_block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _Stop
            self.run_stmt(stmt)

    def branch(self, bodies: list[list[ast.stmt]]) -> None:
        """Run each body from the current state (not knowing which runs) and join the results."""
        start = self.state
        results = []
        self.uncertain += 1
        try:
            for body in bodies:
                self.state = copy.deepcopy(start)
                self.run_block(body)
                results.append(self.state)
        finally:
            self.uncertain -= 1
        merged: dict[str, Any] = {}
        for name in {n for r in results for n in r}:
            value: Any = UNSET
            for r in results:
                value = join(value, r.get(name, UNSET))
            merged[name] = value
        self.state = merged

    def run_stmt(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target, value, node)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.eval(node.value), node)
        elif isinstance(node, ast.AugAssign):
            self.aug_assign(node)
        elif isinstance(node, ast.Expr):
            self.expr_stmt(node.value)
        elif isinstance(node, ast.If):
            truth = _truth(self.eval(node.test))
            if truth is True:
                self.run_block(node.body)
            elif truth is False:
                self.run_block(node.orelse)
            else:
                self.branch([node.body, node.orelse])
        elif isinstance(node, ast.Try | ast.TryStar):
            # The body usually succeeds (`try: import x`); a handler runs instead if it fails.
            if node.handlers:
                self.branch([node.body + node.orelse] + [h.body for h in node.handlers])
            else:
                self.run_block(node.body + node.orelse)
            self.run_block(node.finalbody)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.run_for(node)
        elif isinstance(node, ast.While):
            self.branch([node.body + node.orelse, node.orelse])
        elif isinstance(node, ast.With | ast.AsyncWith):
            self.run_block(node.body)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                self.state[name] = Module(alias.name if alias.asname else name)
        elif isinstance(node, ast.ImportFrom):
            self.run_import_from(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.state[node.name] = Unknown(f"def {node.name}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.scan_function(node)
        elif isinstance(node, ast.Match):
            self.branch([case.body for case in node.cases] + [[]])
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.state.pop(target.id, None)
        # pass, break, continue, return, global, raise, assert: nothing to follow

    def run_for(self, node: ast.For | ast.AsyncFor) -> None:
        items = as_list(self.eval(node.iter))
        if items is None or len(items) > MAX_UNROLL:
            self.uncertain += 1
            try:
                self.assign(node.target, Unknown(self.snippet(node.iter)), node, quiet=True)
            finally:
                self.uncertain -= 1
            self.branch([node.body + node.orelse, node.orelse])
            return
        has_exit = any(isinstance(n, ast.Break | ast.Continue) for n in ast.walk(node))
        if has_exit:
            self.uncertain += 1
        try:
            for item in items:
                self.assign(node.target, item, node, quiet=True)
                self.run_block(node.body)
        finally:
            if has_exit:
                self.uncertain -= 1
        self.run_block(node.orelse)

    def run_import_from(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                if module not in STDLIB_STAR_OK:
                    self.injected = True
                    self.note(
                        node,
                        f"`from {module} import *` may set extensions or html_theme; "
                        "a static reader sees only this file",
                    )
                continue
            bound = alias.asname or alias.name
            if bound in ("extensions", "html_theme"):
                self.injected = True
                self.state[bound] = Unknown(f"imported from {module}")
                self.note(node, f"{bound} is imported from {module}: not visible here")
            else:
                self.state[bound] = Module(f"{module}.{alias.name}")

    def scan_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """`def setup(app)`: `app.setup_extension('x')` loads an extension too."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Global) and set(sub.names) & {"extensions", "html_theme"}:
                self.note(sub, f"function {node.name}() may change extensions or html_theme")
            if (
                node.name == "setup"
                and isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "setup_extension"
                and sub.args
                and isinstance(sub.args[0], ast.Constant)
                and isinstance(sub.args[0].value, str)
            ):
                self.setup_extensions.append(sub.args[0].value)

    def assign(self, target: ast.expr, value: Any, node: ast.AST, quiet: bool = False) -> None:
        if isinstance(target, ast.Name):
            if target.id == "extensions":
                self.track_extensions(value, node, quiet)
            self.state[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = as_list(value) if not isinstance(value, str) else None
            n = len(target.elts)
            if (
                items is not None
                and len(items) == n
                and not any(isinstance(e, ast.Starred) for e in target.elts)
            ):
                for sub, item in zip(target.elts, items, strict=True):
                    self.assign(sub, item, node, quiet)
            else:
                for sub in target.elts:
                    inner = sub.value if isinstance(sub, ast.Starred) else sub
                    self.assign(inner, Unknown(self.snippet(node)), node, quiet=True)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            if target.value.id == "extensions":
                current = self.state.get("extensions")
                if isinstance(target.slice, ast.Slice) and isinstance(current, list):
                    new = as_list(value)
                    if new is not None:
                        current[:] = new
                        self.track_extensions(new, node, quiet)
                        return
                self.note(node, f"extensions changed by `{self.snippet(node)}`")
        elif isinstance(target, ast.Subscript) and self.is_globals(target.value):
            key = self.eval(target.slice)
            if key in ("extensions", "html_theme") or not isinstance(key, str):
                self.injected = True
                self.note(node, f"settings assigned through globals(): `{self.snippet(node)}`")
                if isinstance(key, str):
                    self.state[key] = value

    def track_extensions(self, value: Any, node: ast.AST, quiet: bool = False) -> None:
        """Note run-time computed parts; remember names added under undecided conditions."""
        items = as_list(value)
        if items is None:
            if not quiet:
                self.note(node, f"extensions computed at run time: `{self.snippet(node)}`")
            return
        for item in items:
            if isinstance(item, str):
                if self.uncertain and item not in self.conditional:
                    self.conditional.append(item)
            elif isinstance(item, Choice):
                for opt in item.options:
                    if isinstance(opt, str) and opt not in self.conditional:
                        self.conditional.append(opt)
            elif not quiet:
                self.note(
                    node, f"an extension name is computed at run time: `{self.snippet(node)}`"
                )

    def aug_assign(self, node: ast.AugAssign) -> None:
        if not isinstance(node.target, ast.Name):
            return
        name = node.target.id
        current = self.state.get(name, UNSET)
        rhs = self.eval(node.value)
        if isinstance(node.op, ast.Add):
            cur_list, rhs_list = as_list(current), as_list(rhs)
            if isinstance(current, list) and rhs_list is not None:
                current.extend(rhs_list)  # in place, like list.__iadd__
                if name == "extensions":
                    self.track_extensions(rhs_list, node)
                return
            if cur_list is not None and rhs_list is not None:
                self.assign(node.target, cur_list + rhs_list, node)
                return
            if isinstance(current, str) and isinstance(rhs, str):
                self.state[name] = current + rhs
                return
        value = Unknown(self.snippet(node))
        rhs_list = as_list(rhs)
        if name == "extensions" and isinstance(current, _Unset | Unknown) and rhs_list is not None:
            self.local_additions(node)
            self.state[name] = list(rhs_list)
            self.track_extensions(rhs_list, node)
            return
        if name == "extensions" and current is not UNSET:
            self.note(node, f"extensions changed at run time: `{self.snippet(node)}`")
            keep = as_list(current)
            self.state[name] = keep if keep is not None else value
            return
        self.state[name] = value

    def expr_stmt(self, call: ast.expr) -> None:
        if not isinstance(call, ast.Call):
            return
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            name, method = func.value.id, func.attr
            target = self.state.get(name)
            if isinstance(target, list) and method in ("append", "extend", "insert", "remove"):
                self.list_method(name, target, method, call)
                return
            if isinstance(target, Choice) and method in ("append", "extend", "insert"):
                lst = as_list(target)
                if lst is not None:
                    self.state[name] = lst
                    self.list_method(name, lst, method, call)
                    return
            if name == "extensions" and isinstance(target, _Unset | Unknown | type(None)):
                if method in ("append", "extend", "insert"):
                    self.local_additions(call)
                    self.state[name] = lst = []
                    self.list_method(name, lst, method, call)
                    return
            if name == "extensions" and method in ("append", "extend", "insert", "remove"):
                self.note(call, f"extensions changed at run time: `{self.snippet(call)}`")
                return
        if isinstance(func, ast.Attribute) and self.is_globals(func.value):
            self.injected = True
            self.note(call, f"settings injected by `{self.snippet(call)}`; may be incomplete")
            return
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        passes_globals = any(self.is_globals(a) for a in call.args) or any(
            self.is_globals(k.value) for k in call.keywords
        )
        if fname in INJECTORS or passes_globals:
            self.injected = True
            self.note(call, f"settings may be injected by `{self.snippet(call)}`")

    def local_additions(self, node: ast.AST) -> None:
        """`extensions += [...]` with the list defined elsewhere: only additions are visible."""
        self.note(
            node,
            "extensions is defined outside this file; only the additions made here are "
            "visible, so the list may be incomplete",
        )

    def list_method(self, name: str, target: list[Any], method: str, call: ast.Call) -> None:
        args = [self.eval(a) for a in call.args]
        if method == "append" and len(args) == 1:
            target.append(args[0])
            added = [args[0]]
        elif method == "extend" and len(args) == 1:
            items = as_list(args[0])
            if items is None:
                if name == "extensions":
                    self.note(call, f"extensions extended at run time: `{self.snippet(call)}`")
                return
            target.extend(items)
            added = items
        elif method == "insert" and len(args) == 2:
            index = args[0] if isinstance(args[0], int) else len(target)
            target.insert(index, args[1])
            added = [args[1]]
        elif method == "remove" and len(args) == 1:
            if self.uncertain == 0 and args[0] in target:
                target.remove(args[0])
            return
        else:
            return
        if name == "extensions":
            self.track_extensions(added, call)

    @staticmethod
    def is_globals(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("globals", "locals", "vars")
            and not node.args
        )

    # ------------------------------------------------------------------ expressions

    def eval(self, node: ast.expr, scope: dict[str, Any] | None = None) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Stop
        try:
            return self._eval(node, scope or {})
        except _Stop:
            raise
        except RecursionError:
            raise _Stop from None
        except Exception:
            return Unknown(self.snippet(node))

    def _eval(self, node: ast.expr, scope: dict[str, Any]) -> Any:
        ev = self.eval
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in scope:
                return scope[node.id]
            value = self.state.get(node.id, UNSET)
            if value is UNSET:
                return {"True": True, "False": False, "None": None}.get(node.id, Unknown(node.id))
            return value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            out: list[Any] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    inner = ev(elt.value, scope)
                    items = as_list(inner)
                    out.extend(items if items is not None else [inner])
                else:
                    out.append(ev(elt, scope))
            return tuple(out) if isinstance(node, ast.Tuple) else out
        if isinstance(node, ast.Dict):
            result: dict[Any, Any] = {}
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    return Unknown("dict unpacking")
                key = ev(k, scope)
                if not _known(key):
                    return Unknown(self.snippet(node))
                result[key] = ev(v, scope)
            return result
        if isinstance(node, ast.BinOp):
            return self.binop(node, ev(node.left, scope), ev(node.right, scope))
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand, scope)
            if isinstance(node.op, ast.Not):
                truth = _truth(value)
                return Unknown(self.snippet(node)) if truth is None else not truth
            if _known(value):
                return {ast.USub: operator.neg, ast.UAdd: operator.pos}[type(node.op)](value)
            return Unknown(self.snippet(node))
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, scope)
        if isinstance(node, ast.Compare):
            return self.compare(node, scope)
        if isinstance(node, ast.IfExp):
            truth = _truth(ev(node.test, scope))
            if truth is True:
                return ev(node.body, scope)
            if truth is False:
                return ev(node.orelse, scope)
            return join(ev(node.body, scope), ev(node.orelse, scope))
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                elif isinstance(v, ast.FormattedValue) and v.format_spec is None:
                    inner = ev(v.value, scope)
                    if not isinstance(inner, str | int | float):
                        return Unknown(self.snippet(node))
                    parts.append(str(inner))
                else:
                    return Unknown(self.snippet(node))
            return "".join(parts)
        if isinstance(node, ast.Subscript):
            container, index = ev(node.value, scope), ev(node.slice, scope)
            if isinstance(container, list | tuple | dict | str) and _known(index):
                return container[index]
            return Unknown(self.snippet(node))
        if isinstance(node, ast.Slice):
            parts = [ev(p, scope) if p is not None else None for p in (node.lower, node.upper)]
            step = ev(node.step, scope) if node.step is not None else None
            if all(_known(p) for p in (*parts, step)):
                return slice(parts[0], parts[1], step)
            return Unknown("slice")
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            return self.comprehension(node, scope)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Attribute):
            base = ev(node.value, scope)
            if isinstance(base, Module):
                if node.attr == "__name__":
                    return base.name
                return Unknown(f"{base.name}.{node.attr}")
            return Unknown(self.snippet(node))
        if isinstance(node, ast.NamedExpr):
            value = ev(node.value, scope)
            self.state[node.target.id] = value
            return value
        return Unknown(self.snippet(node))

    def binop(self, node: ast.BinOp, left: Any, right: Any) -> Any:
        if isinstance(node.op, ast.Add):
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            ll, rl = as_list(left), as_list(right)
            if ll is not None and rl is not None and not isinstance(left, dict):
                out = ll + rl
                return tuple(out) if isinstance(left, tuple) else out
            if isinstance(left, Choice) or isinstance(right, Choice):
                lo = left.options if isinstance(left, Choice) else (left,)
                ro = right.options if isinstance(right, Choice) else (right,)
                if all(isinstance(v, str) for v in (*lo, *ro)):
                    return Choice(tuple(a + b for a in lo for b in ro))
        elif isinstance(node.op, ast.Mod) and isinstance(left, str) and _known(right):
            return left % (tuple(right) if isinstance(right, list) else right)
        elif isinstance(node.op, ast.Mult) and _known(left) and _known(right):
            if isinstance(left, list | tuple | str) and isinstance(right, int) and right < 1000:
                return left * right
        elif isinstance(node.op, ast.BitOr) and isinstance(left, dict) and isinstance(right, dict):
            return {**left, **right}
        if _known(left) and _known(right) and isinstance(left, int | float):
            ops = {ast.Sub: operator.sub, ast.Add: operator.add, ast.Mult: operator.mul}
            if type(node.op) in ops and isinstance(right, int | float):
                return ops[type(node.op)](left, right)
        return Unknown(self.snippet(node))

    def boolop(self, node: ast.BoolOp, scope: dict[str, Any]) -> Any:
        is_and = isinstance(node.op, ast.And)
        undecided: list[Any] = []
        value: Any = None
        for value_node in node.values:
            value = self.eval(value_node, scope)
            truth = _truth(value)
            if truth is None:
                undecided.append(value)
                continue
            if is_and and truth is False:
                return value if not undecided else False
            if not is_and and truth is True:
                break
        else:
            if not undecided:
                return value
            if is_and:
                return Unknown(self.snippet(node))
        if not undecided:
            return value
        result: Any = UNSET
        for v in (*undecided, value):  # `os.environ.get("X") or "furo"`: either one
            result = join(result, v)
        return result

    def compare(self, node: ast.Compare, scope: dict[str, Any]) -> Any:
        left = self.eval(node.left, scope)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node, scope)
            if not (_known(left) and _known(right)):
                return Unknown(self.snippet(node))
            if not _CMP[type(op)](left, right):
                return False
            left = right
        return True

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp, scope: dict[str, Any]
    ) -> Any:
        scopes = [dict(scope)]
        for gen in node.generators:
            next_scopes = []
            for sc in scopes:
                items = as_list(self.eval(gen.iter, sc))
                if items is None or len(items) > MAX_UNROLL:
                    return Unknown(self.snippet(node))
                for item in items:
                    inner = dict(sc)
                    if not self.bind(gen.target, item, inner):
                        return Unknown(self.snippet(node))
                    truths = [_truth(self.eval(cond, inner)) for cond in gen.ifs]
                    if all(t is not False for t in truths):  # undecided filters keep the item
                        next_scopes.append(inner)
            scopes = next_scopes
        return [self.eval(node.elt, sc) for sc in scopes]

    def bind(self, target: ast.expr, value: Any, scope: dict[str, Any]) -> bool:
        if isinstance(target, ast.Name):
            scope[target.id] = value
            return True
        if isinstance(target, ast.Tuple | ast.List):
            items = as_list(value)
            if items is None or len(items) != len(target.elts):
                return False
            return all(self.bind(t, v, scope) for t, v in zip(target.elts, items, strict=True))
        return False

    def call(self, node: ast.Call, scope: dict[str, Any]) -> Any:
        func = node.func
        args = [self.eval(a, scope) for a in node.args if not isinstance(a, ast.Starred)]
        if any(isinstance(a, ast.Starred) for a in node.args):
            return Unknown(self.snippet(node))
        if isinstance(func, ast.Name):
            name = func.id
            if name in ("list", "tuple", "sorted", "set", "reversed") and len(args) <= 1:
                if not args:
                    return []
                items = as_list(args[0]) if not isinstance(args[0], str) else list(args[0])
                if items is None:
                    return Unknown(self.snippet(node))
                if name == "sorted" and all(isinstance(i, str) for i in items):
                    items = sorted(items)
                if name == "reversed":
                    items = items[::-1]
                return tuple(items) if name == "tuple" else items
            if name == "str" and len(args) == 1 and _known(args[0]):
                return str(args[0])
            if name == "dict" and not args:
                return {k.arg: self.eval(k.value, scope) for k in node.keywords if k.arg}
            return Unknown(self.snippet(node))
        if isinstance(func, ast.Attribute):
            base = self.eval(func.value, scope)
            method = func.attr
            if isinstance(base, str) and method in _STR_METHODS and all(_known(a) for a in args):
                kwargs = {k.arg: self.eval(k.value, scope) for k in node.keywords if k.arg}
                if all(_known(v) for v in kwargs.values()):
                    return getattr(base, method)(*args, **kwargs)
            if isinstance(base, str) and method == "join" and len(args) == 1:
                items = as_list(args[0])
                if items is not None and all(isinstance(i, str) for i in items):
                    return base.join(items)
            if isinstance(base, dict) and method in ("keys", "values", "items") and not args:
                if method == "keys":
                    return list(base)
                if method == "values":
                    return list(base.values())
                return [(k, v) for k, v in base.items()]
            if isinstance(base, dict) and method == "get" and args:
                key = args[0]
                if _known(key) and key in base:
                    return base[key]
                return args[1] if len(args) > 1 else None
            # os.environ.get("X", default) / os.getenv("X", default): unknown, but the
            # default is one possible value (the one a build without the variable uses).
            text = self.snippet(func)
            if text in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                default = args[1] if len(args) > 1 else None
                if len(args) > 1 and isinstance(default, str):
                    return Choice((default, Unknown(self.snippet(node))))
                return Unknown(self.snippet(node))
        return Unknown(self.snippet(node))


def _parse(source: bytes, label: str, notes: list[str]) -> ast.Module | None:
    """Parse the file; lines that are not Python 3 (print statements...) are skipped."""
    try:
        return ast.parse(source, filename=label)
    except (SyntaxError, ValueError):
        pass
    text = source.decode("utf-8", "replace")
    text = re.sub(r"^#.*coding[:=].*$", "", text, count=1, flags=re.M)
    # Python 2 forms with a Python 3 spelling: keep the structure instead of skipping lines.
    text = re.sub(r"^(\s*except\s+[^,:#]+?)\s*,\s*(\w+)\s*:", r"\1 as \2:", text, flags=re.M)
    lines = text.splitlines()
    skipped: list[int] = []
    for _ in range(MAX_SYNTAX_FIXES):
        try:
            tree = ast.parse("\n".join(lines), filename=label)
        except SyntaxError as exc:
            n = (exc.lineno or 0) - 1
            if not 0 <= n < len(lines) or lines[n].strip() in ("pass", ""):
                break
            indent = re.match(r"\s*", lines[n]).group(0)  # type: ignore[union-attr]
            opens_block = lines[n].split("#", 1)[0].rstrip().endswith(":")
            lines[n] = indent + ("if True:" if opens_block else "pass")
            skipped.append(n + 1)
            continue
        except ValueError:
            break
        notes.append(
            f"{label}: not valid Python 3; skipped line(s) "
            f"{', '.join(map(str, skipped[:10]))}{'...' if len(skipped) > 10 else ''}"
        )
        return tree
    return None


def _regex_fallback(source: bytes, settings: SphinxSettings, label: str) -> None:
    """Last resort for unparsable files: literal `extensions = [...]` and `html_theme = "..."`."""
    text = source.decode("utf-8", "replace")
    m = re.search(r"^extensions\s*=\s*(\[[^\]]*\])", text, re.M)
    if m:
        try:
            value = ast.literal_eval(m.group(1))
            settings.extensions = [v for v in value if isinstance(v, str)]
        except (ValueError, SyntaxError):
            settings.extensions = re.findall(r"['\"]([\w.\-]+)['\"]", m.group(1))
    themes = re.findall(r"^html_theme\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    settings.theme = themes[-1] if themes else None
    settings.notes.append(f"{label}: does not parse as Python; read with a pattern match")


def _pick_theme(value: Any, reader: _Reader) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, Choice):
        names = [v for v in value.options if isinstance(v, str) and v]
        if not names:
            reader.note(None, "html_theme computed at run time; not visible to a static reader")
            return None
        third_party = [n for n in names if n not in BUILTIN_THEMES]
        chosen = (third_party or names)[-1]
        if len(names) > 1 or len(names) < len(value.options):
            reader.notes.append(
                f"{reader.label}: html_theme depends on a condition decided at build time "
                f"({', '.join(names)}); reporting {chosen}"
            )
        return chosen
    reader.note(None, "html_theme computed at run time; not visible to a static reader")
    return None


def read_conf_source(source: bytes, label: str = "conf.py") -> SphinxSettings:
    """Extensions and html_theme from conf.py source, without running it."""
    settings = SphinxSettings()
    tree = _parse(source, label, settings.notes)
    if tree is None:
        _regex_fallback(source, settings, label)
        return settings
    reader = _Reader(source.decode("utf-8", "replace"), label)
    reader.notes = settings.notes
    try:
        reader.run_block(tree.body)
    except _Stop:
        reader.notes.append(f"{label}: too complex to follow completely; results may be partial")
    ext = reader.state.get("extensions", UNSET)
    names: list[str] = []
    if ext is UNSET:
        if reader.injected:
            reader.note(None, "extensions is not set in this file (it may come from elsewhere)")
    else:
        items = as_list(ext)
        if items is None:
            if not any("extensions" in n for n in reader.notes):
                reader.note(None, "extensions computed at run time; not visible to a static reader")
            items = []
        for item in items:
            opts = item.options if isinstance(item, Choice) else (item,)
            for opt in opts:
                if isinstance(opt, str) and opt.strip() and opt.strip() not in names:
                    names.append(opt.strip())
    for name in reader.setup_extensions:
        if name not in names:
            names.append(name)
    settings.extensions = names
    settings.conditional = [c for c in reader.conditional if c in names]
    theme = reader.state.get("html_theme", UNSET)
    if theme is UNSET:
        if reader.injected:
            reader.note(None, "html_theme is not set in this file (it may come from elsewhere)")
            settings.theme = None
        else:
            settings.theme = "alabaster"  # Sphinx's default when conf.py does not choose
    else:
        settings.theme = _pick_theme(theme, reader)
    if settings.conditional:
        shown = ", ".join(settings.conditional[:10])
        settings.notes.append(
            f"{label}: extension(s) added under conditions decided at build time "
            f"(reported as used): {shown}{'...' if len(settings.conditional) > 10 else ''}"
        )
    settings.notes[:] = settings.notes[:MAX_NOTES]
    return settings


def read_conf(path: Path, label: str | None = None) -> SphinxSettings:
    """Read a conf.py file (problems become notes, never exceptions)."""
    name = label or path.name
    try:
        source = read_local(path, MAX_FILE)
    except ProbeFailure as exc:
        return SphinxSettings(notes=[str(exc)])
    return read_conf_source(source, name)
