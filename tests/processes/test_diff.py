"""The structural diff a promotion dialog shows: pure functions, no app needed."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.processes.diff import Change, diff_documents, line_diff


def changes(old: Any, new: Any) -> set[tuple[str, str, Any, Any]]:
    return {(c.path, c.type, _frozen(c.old), _frozen(c.new)) for c in diff_documents(old, new).changes}


def _frozen(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else (type(value).__name__, value)


def F(value: Any) -> Any:
    return _frozen(value)


# -- basic kinds --------------------------------------------------------------------------------


def test_added_removed_and_modified_top_level_keys_are_each_reported():
    old = {"model": "a", "temperature": 0.2, "stop": "x"}
    new = {"model": "b", "temperature": 0.2, "max_tokens": 300}
    assert changes(old, new) == {
        ("model", "modified", F("a"), F("b")),
        ("stop", "removed", F("x"), F(None)),
        ("max_tokens", "added", F(None), F(300)),
    }


def test_identical_documents_have_no_changes_and_say_so():
    doc = {"config": {"prompt": "hi", "n": [1, 2]}, "input_schema": None}
    diff = diff_documents(doc, copy.deepcopy(doc))
    assert diff.changes == []
    assert diff.summary == "No changes"


def test_nested_object_changes_are_reported_at_their_dotted_path():
    old = {"config": {"params": {"temperature": 0.2, "top_p": 1}}}
    new = {"config": {"params": {"temperature": 0.5, "seed": 7}}}
    assert changes(old, new) == {
        ("config.params.temperature", "modified", F(0.2), F(0.5)),
        ("config.params.top_p", "removed", F(1), F(None)),
        ("config.params.seed", "added", F(None), F(7)),
    }


def test_array_that_grows_reports_the_new_items_as_added_by_index():
    assert changes({"stop": ["a"]}, {"stop": ["a", "b", "c"]}) == {
        ("stop[1]", "added", F(None), F("b")),
        ("stop[2]", "added", F(None), F("c")),
    }


def test_array_that_shrinks_reports_the_dropped_items_as_removed_by_index():
    assert changes({"stop": ["a", "b", "c"]}, {"stop": ["a"]}) == {
        ("stop[1]", "removed", F("b"), F(None)),
        ("stop[2]", "removed", F("c"), F(None)),
    }


def test_array_item_that_changes_is_modified_at_its_index_including_nested_objects():
    old = {"messages": [{"role": "system", "text": "a"}, "x"]}
    new = {"messages": [{"role": "system", "text": "b"}, "y"]}
    assert changes(old, new) == {
        ("messages[0].text", "modified", F("a"), F("b")),
        ("messages[1]", "modified", F("x"), F("y")),
    }


# -- arrays by alignment, not by index -----------------------------------------------------------------

CHAT = [{"role": "system", "text": "Be kind."}, {"role": "user", "text": "Hi"},
        {"role": "assistant", "text": "Hello!"}, {"role": "user", "text": "Help me."}]


def test_one_message_inserted_at_the_front_is_one_addition_not_four_modifications():
    first = {"role": "system", "text": "You are Promotion Desk's helper."}
    diff = diff_documents({"messages": CHAT}, {"messages": [first, *CHAT]})
    assert changes({"messages": CHAT}, {"messages": [first, *CHAT]}) == {("messages[0]", "added", F(None), F(first))}
    assert diff.summary == "1 change: 1 added"


def test_one_element_inserted_in_the_middle_is_added_at_its_new_index():
    assert changes({"stop": ["a", "b", "c", "d"]}, {"stop": ["a", "b", "x", "c", "d"]}) == {
        ("stop[2]", "added", F(None), F("x")),
    }


def test_one_element_deleted_from_the_middle_is_removed_at_its_old_index_and_the_rest_is_unchanged():
    assert changes({"messages": CHAT}, {"messages": [CHAT[0], CHAT[2], CHAT[3]]}) == {
        ("messages[1]", "removed", F(CHAT[1]), F(None)),
    }


def test_a_moved_element_is_one_removal_and_one_addition_and_nothing_else():
    old, new = ["a", "b", "c", "d", "e"], ["b", "c", "d", "e", "a"]
    assert changes({"x": old}, {"x": new}) == {("x[0]", "removed", F("a"), F(None)), ("x[4]", "added", F(None), F("a"))}


def test_a_changed_message_among_inserted_ones_is_one_modification_at_its_new_path():
    new = [{"role": "system", "text": "new first"}, CHAT[0], CHAT[1], {"role": "assistant", "text": "Hello again!"},
           CHAT[3]]
    assert changes({"messages": CHAT}, {"messages": new}) == {
        ("messages[0]", "added", F(None), F({"role": "system", "text": "new first"})),
        ("messages[3].text", "modified", F("Hello!"), F("Hello again!")),
    }


def test_nested_arrays_of_objects_are_aligned_at_every_level():
    old = {"tools": [{"name": "search", "args": [{"n": "q"}, {"n": "limit"}]},
                     {"name": "fetch", "args": [{"n": "url"}]}]}
    new = {"tools": [{"name": "clock", "args": []},
                     {"name": "search", "args": [{"n": "lang"}, {"n": "q"}, {"n": "limit"}]},
                     {"name": "fetch", "args": [{"n": "url"}]}]}
    # The new tool at the front and the new argument at the front of search's, nothing else: without
    # alignment, every tool after the first would be reported modified field by field.
    assert changes(old, new) == {
        ("tools[0]", "added", F(None), F({"name": "clock", "args": []})),
        ("tools[1].args[0]", "added", F(None), F({"n": "lang"})),
    }


def test_equal_values_of_different_json_types_in_arrays_are_not_aligned_as_equal():
    assert changes({"x": [1, "a"]}, {"x": [True, "a"]}) == {("x[0]", "modified", F(1), F(True))}
    assert changes({"x": [1.0, 2]}, {"x": [1, 2]}) == {("x[0]", "modified", F(1.0), F(1))}


def test_objects_that_differ_only_in_key_order_are_equal_array_elements():
    assert changes({"x": [{"a": 1, "b": 2}]}, {"x": [{"b": 2, "a": 1}]}) == set()


def test_a_long_array_of_repeated_values_is_still_aligned_exactly():
    # difflib's autojunk would drop the popular "" from matching in arrays of 200+ elements.
    old = [""] * 300 + ["end"]
    assert changes({"x": old}, {"x": ["start", *old]}) == {("x[0]", "added", F(None), F("start"))}


# -- nulls and types ------------------------------------------------------------------------------


def test_null_becoming_a_value_is_a_modification_not_an_addition():
    assert changes({"input_schema": None}, {"input_schema": {"type": "object"}}) == {
        ("input_schema", "modified", F(None), F({"type": "object"})),
    }


def test_value_becoming_null_is_a_modification():
    assert changes({"seed": 3}, {"seed": None}) == {("seed", "modified", F(3), F(None))}


def test_a_new_key_whose_value_is_null_is_still_reported_as_added():
    assert changes({}, {"seed": None}) == {("seed", "added", F(None), F(None))}


def test_one_true_and_one_point_zero_are_different_json_values():
    assert changes({"x": 1}, {"x": True}) == {("x", "modified", F(1), F(True))}
    assert changes({"x": 1}, {"x": 1.0}) == {("x", "modified", F(1), F(1.0))}
    assert changes({"x": True}, {"x": 1.0}) == {("x", "modified", F(True), F(1.0))}
    assert changes({"x": 0}, {"x": False}) == {("x", "modified", F(0), F(False))}


def test_an_object_replaced_by_an_array_or_a_string_is_one_modification():
    assert changes({"x": {"a": 1}}, {"x": [1]}) == {("x", "modified", F({"a": 1}), F([1]))}
    assert changes({"x": ["a"]}, {"x": "a"}) == {("x", "modified", F(["a"]), F("a"))}


# -- summaries ------------------------------------------------------------------------------------


def test_summary_counts_changes_by_kind_in_a_readable_sentence():
    diff = diff_documents({"a": 1, "b": 2}, {"a": 2, "b": 3, "c": 4})
    assert diff.summary == "3 changes: 1 added, 2 modified"


def test_summary_uses_the_singular_for_one_change():
    assert diff_documents({"a": 1}, {}).summary == "1 change: 1 removed"


def test_diff_as_json_matches_the_public_contract_shape():
    body = diff_documents({"a": 1}, {"a": 2}).as_json()
    assert body == {"changes": [{"path": "a", "type": "modified", "old": 1, "new": 2}],
                    "summary": "1 change: 1 modified"}


# -- first promotion --------------------------------------------------------------------------------


def test_first_promotion_lists_every_non_null_top_level_field_as_added():
    new = {"config": {"prompt": "hi"}, "input_schema": {"type": "object"}, "output_schema": None}
    diff = diff_documents(None, new)
    assert [(c.path, c.type, c.old, c.new) for c in diff.changes] == [
        ("config", "added", None, {"prompt": "hi"}),
        ("input_schema", "added", None, {"type": "object"}),
    ]
    assert diff.summary == "2 changes: 2 added"


# -- long text ----------------------------------------------------------------------------------------


def test_multiline_or_long_string_changes_are_long_text_and_short_ones_are_not():
    assert Change("p", "modified", "line 1\nline 2", "line 1\nline 3").is_long_text
    assert Change("p", "modified", "x" * 200, "y").is_long_text
    assert not Change("p", "modified", "short", "also short").is_long_text
    assert not Change("p", "added", None, "a\nb").is_long_text
    assert not Change("p", "modified", 1, "a\nb").is_long_text


def test_line_diff_marks_deleted_added_and_context_lines_with_a_hunk_header():
    old = "You are helpful.\nBe brief.\nBe kind."
    new = "You are helpful.\nBe brief and exact.\nBe kind.\nNever promise refunds."
    rows = line_diff(old, new)
    assert rows[0][0] == "hunk" and rows[0][1].startswith("@@")
    assert ("del", "Be brief.") in rows
    assert ("add", "Be brief and exact.") in rows
    assert ("add", "Never promise refunds.") in rows
    assert ("ctx", "You are helpful.") in rows
    assert ("ctx", "Be kind.") in rows
    assert not any(kind == "del" and line == "Be kind." for kind, line in rows)


def test_line_diff_of_equal_texts_is_empty():
    assert line_diff("a\nb", "a\nb") == []


# -- properties -----------------------------------------------------------------------------------------

_keys = st.text(alphabet="abcxyz", min_size=1, max_size=3)
_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False) | st.text(max_size=4)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
                     max_leaves=8)
_docs = st.dictionaries(_keys, _json, max_size=4)

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _parse_path(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in _TOKEN.findall(path)]


def apply_changes(doc: dict[str, Any], diff_changes: list[Change]) -> dict[str, Any]:
    """Replay a diff onto a copy of `doc`, shallowest paths first (a deeper path names its parents by their index
    in the new document). At each depth: removals by their old index, highest first; then additions, inserted
    at their new index, lowest first; then modifications."""
    result = copy.deepcopy(doc)

    def parent_of(parts: list[str | int]) -> Any:
        node: Any = result
        for part in parts[:-1]:
            node = node[part]
        return node

    parsed = [(_parse_path(c.path), c) for c in diff_changes]
    for depth in sorted({len(parts) for parts, _ in parsed}):
        level = [(parts, c) for parts, c in parsed if len(parts) == depth]
        for parts, _ in sorted((p for p in level if p[1].type == "removed"), key=lambda p: str(p[0][-1]).zfill(9),
                               reverse=True):
            del parent_of(parts)[parts[-1]]
        for parts, change in sorted((p for p in level if p[1].type == "added"), key=lambda p: str(p[0][-1]).zfill(9)):
            parent = parent_of(parts)
            if isinstance(parent, list):
                parent.insert(parts[-1], copy.deepcopy(change.new))
            else:
                parent[parts[-1]] = copy.deepcopy(change.new)
        for parts, change in level:
            if change.type == "modified":
                parent_of(parts)[parts[-1]] = copy.deepcopy(change.new)
    return result


def _strict_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@settings(max_examples=200, deadline=None)
@given(_docs)
def test_property_a_document_compared_with_itself_has_no_changes(doc):
    assert diff_documents(doc, copy.deepcopy(doc)).changes == []


@settings(max_examples=300, deadline=None)
@given(_docs, _docs)
def test_property_applying_the_diff_of_a_and_b_to_a_yields_exactly_b(a, b):
    diff = diff_documents(a, b)
    assert _strict_equal(apply_changes(a, diff.changes), b)
    assert (diff.changes == []) == _strict_equal(a, b)


@settings(max_examples=300, deadline=None)
@given(st.lists(_json, max_size=8), st.data())
def test_property_one_element_inserted_anywhere_in_an_array_is_exactly_one_addition(items, data):
    index = data.draw(st.integers(0, len(items)))
    value = data.draw(_json)
    diff = diff_documents({"x": items}, {"x": [*items[:index], value, *items[index:]]})
    assert [c.type for c in diff.changes] == ["added"]
    assert _strict_equal(diff.changes[0].new, value)


@settings(max_examples=300, deadline=None)
@given(st.lists(_json, min_size=1, max_size=8), st.data())
def test_property_one_element_deleted_anywhere_in_an_array_is_exactly_one_removal(items, data):
    index = data.draw(st.integers(0, len(items) - 1))
    diff = diff_documents({"x": items}, {"x": [*items[:index], *items[index + 1:]]})
    assert [c.type for c in diff.changes] == ["removed"]
