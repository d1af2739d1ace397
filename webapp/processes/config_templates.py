"""A config's templates: every template string compiled once in a sandboxed Jinja, and rendered with an input."""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

_templates = ImmutableSandboxedEnvironment(autoescape=False)


def compile_templates(node: Any) -> Any:
    """The config with every template string compiled (raises jinja2's TemplateError when one does not parse)."""
    if isinstance(node, str):
        return _templates.from_string(node) if ("{{" in node or "{%" in node) else node
    if isinstance(node, dict):
        return {k: compile_templates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [compile_templates(v) for v in node]
    return node


def render_templates(node: Any, context: dict[str, Any]) -> Any:
    """A compiled config with its templates rendered with `context`, the rest as it is."""
    if isinstance(node, dict):
        return {k: render_templates(v, context) for k, v in node.items()}
    if isinstance(node, list):
        return [render_templates(v, context) for v in node]
    if hasattr(node, "render"):
        return node.render(context)
    return node
