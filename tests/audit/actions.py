"""Every audit action name webapp/ can record, read from the source: each `audit.record(actor, <action>, …)` call.

The action is often a literal, but not always: `"a" if x else "b"`, an f-string over a few words, a parameter
whose callers pass literals (`audit_change(who, "planning.joined", …)`), a local variable, a module-level dict's
values, or an enum member's `.value`. Each of those is expanded to the names it can take; an expression the
collector cannot expand is an error naming its file and line, so a new kind of call is taught here rather than
silently left without a sentence.
"""

from __future__ import annotations

import ast
import enum
import importlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"


@dataclass(frozen=True)
class Site:
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


class Unresolved(Exception):
    pass


def _modules() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), filename=str(p)) for p in sorted(WEBAPP.rglob("*.py"))}


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_record_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit")


class Collector:
    def __init__(self) -> None:
        self.modules = _modules()
        self.parents: dict[ast.AST, ast.AST] = {}
        for tree in self.modules.values():
            for parent in ast.walk(tree):
                for child in ast.iter_child_nodes(parent):
                    self.parents[child] = parent

    def _function(self, node: ast.AST) -> ast.FunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node  # type: ignore[return-value]
        return None

    def _calls_of(self, name: str, home: Path) -> Iterator[tuple[Path, ast.Call]]:
        """Calls of the function `name` of `home`: in that module only when the name is private (`_event`)."""
        for path, tree in self.modules.items():
            if name.startswith("_") and path != home:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and (
                        (isinstance(node.func, ast.Name) and node.func.id == name)
                        or (isinstance(node.func, ast.Attribute) and node.func.attr == name)):
                    yield path, node

    def _parameter_values(self, path: Path, func: ast.FunctionDef, param: str) -> set[str]:
        """What `param` of `func` is given: its default and what every call passes (positionally or by name)."""
        names = [a.arg for a in func.args.args]
        values: set[str] = set()
        defaults = dict(zip(names[len(names) - len(func.args.defaults):], func.args.defaults, strict=True))
        defaults |= {a.arg: d for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True) if d}
        if param in defaults:
            values |= self.expand(path, defaults[param])
        for call_path, call in self._calls_of(func.name, path):
            given = [k.value for k in call.keywords if k.arg == param]
            if param in names and names.index(param) < len(call.args):
                given.append(call.args[names.index(param)])
            for node in given:
                values |= self.expand(call_path, node)
        return values

    def _enum_of(self, path: Path, func: ast.FunctionDef | None, name: str) -> type[enum.Enum] | None:
        """The enum a parameter is annotated with (`state: ScheduleState`), from the module's own globals."""
        if func is None:
            return None
        for arg in func.args.args + func.args.kwonlyargs:
            if arg.arg == name and isinstance(arg.annotation, ast.Name):
                found = getattr(importlib.import_module(_dotted(path)), arg.annotation.id, None)
                if isinstance(found, type) and issubclass(found, enum.Enum):
                    return found
        return None

    def expand(self, path: Path, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.expand(path, node.body) | self.expand(path, node.orelse)
        if isinstance(node, ast.JoinedStr):
            parts = [self.expand(path, v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
            return {"".join(p) for p in itertools.product(*parts)}
        func = self._function(node)
        if isinstance(node, ast.Name) and func is not None:
            assigned = [n.value for n in ast.walk(func) if isinstance(n, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
            if assigned:
                return set().union(*(self.expand(path, v) for v in assigned))
            if node.id in [a.arg for a in func.args.args + func.args.kwonlyargs]:
                return self._parameter_values(path, func, node.id)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            table = getattr(importlib.import_module(_dotted(path)), node.value.id, None)
            if isinstance(table, dict) and all(isinstance(v, str) for v in table.values()):
                return set(table.values())
        if isinstance(node, ast.Attribute) and node.attr == "value":
            member = node.value
            if isinstance(member, ast.Name) and (kind := self._enum_of(path, func, member.id)):
                return {m.value for m in kind}
            if isinstance(member, ast.Attribute) and isinstance(member.value, ast.Name):
                # `job.kind.value`: the enum of the model column `kind` of the annotated `job`
                module = importlib.import_module(_dotted(path))
                for arg in (func.args.args if func else []):
                    if arg.arg == member.value.id and isinstance(arg.annotation, ast.Name):
                        model = getattr(module, arg.annotation.id, None)
                        column_type = getattr(getattr(model, member.attr, None), "type", None)
                        kind = getattr(column_type, "enum_class", None)
                        if kind is not None:
                            return {m.value for m in kind}
            if isinstance(member, ast.Attribute) and isinstance(member.value, ast.Name):
                found = getattr(importlib.import_module(_dotted(path)), member.value.id, None)
                if isinstance(found, type) and issubclass(found, enum.Enum):
                    return {found[member.attr].value}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):  # `ScheduleState.missed`
            found = getattr(importlib.import_module(_dotted(path)), node.value.id, None)
            if isinstance(found, type) and issubclass(found, enum.Enum):
                return {found[node.attr].value}
        raise Unresolved(f"{Site(path, getattr(node, 'lineno', 0))}: cannot tell which audit actions "
                         f"`{ast.unparse(node)}` names; teach tests/audit/actions.py")

    def actions(self) -> dict[str, list[Site]]:
        """Every action name → where it is recorded."""
        found: dict[str, list[Site]] = {}
        for path, tree in self.modules.items():
            for node in ast.walk(tree):
                if _is_record_call(node) and len(node.args) >= 2:  # type: ignore[arg-type]
                    for action in self.expand(path, node.args[1]):  # type: ignore[attr-defined]
                        found.setdefault(action, []).append(Site(path, node.lineno))
        return found


def recorded_actions() -> dict[str, list[Site]]:
    return Collector().actions()
