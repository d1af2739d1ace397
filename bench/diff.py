"""diff: two documents with 10,000 config keys each (some nested, ~5% modified, some added and
removed) and a 50 KB multi-line prompt with a few changed lines.

diff_compute_ms   median of 5 runs of webapp.processes.diff.diff_documents(old, new)
diff_fragment_ms  median of 5 GET /processes/<slug>/compare?old=&new= with HX-Request: true (the
                  diff fragment) through the test client, signed in as a viewer
json_dumps_ms     baseline in the same run: json.dumps of both documents; diff_vs_json_dumps is the
                  ratio (how many "serialise both documents" the diff costs)
diff_arrays_ms    median of 5 diffs of a 2,000-message chat array (objects) with 20 messages inserted at
                  the front and in the middle, 20 removed, 20 moved and 20 edited: arrays are aligned
                  (SequenceMatcher + pairing of alike elements), so this is the alignment's cost
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from bench._common import Results, https_client, login, median, new_app, section, seed_users, time_ms

KEYS = 10_000
RUNS = 5


def documents(seed: int = 7) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    old_cfg: dict[str, Any] = {}
    for i in range(KEYS - 1):  # + the prompt = 10,000 keys
        if i % 10 == 0:
            old_cfg[f"group_{i:05d}"] = {"enabled": bool(i % 3), "weight": i / 7,
                                         "tags": [f"t{i % 13}", f"t{i % 17}"], "label": f"Group {i}"}
        else:
            old_cfg[f"key_{i:05d}"] = rng.choice([i, f"value {i}", i * 0.5, None, True])
    lines = [f"Line {n:04d}: You are a careful assistant. Follow the policy section {n % 40} exactly."
             for n in range(660)]
    old_cfg["prompt"] = "\n".join(lines)  # ~50 KB
    new_cfg = json.loads(json.dumps(old_cfg))
    keys = [k for k in new_cfg if k != "prompt"]
    for k in rng.sample(keys, KEYS * 5 // 100):  # ~5% modified (nested ones deep inside)
        v = new_cfg[k]
        if isinstance(v, dict):
            v["weight"] = round(v["weight"] + 1, 3)
            v["tags"].append("new")
        else:
            new_cfg[k] = f"changed {v}"
    for k in rng.sample(keys, 100):  # removed
        new_cfg.pop(k, None)
    for i in range(100):  # added
        new_cfg[f"added_{i:03d}"] = {"since": "v2", "n": i}
    new_lines = list(lines)
    for n in (5, 210, 211, 400, 617):
        new_lines[n] = new_lines[n].replace("careful", "meticulous")
    new_lines.insert(300, "A new line about tone: stay friendly.")
    new_cfg["prompt"] = "\n".join(new_lines)
    schema = {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}
    old = {"config": old_cfg, "input_schema": schema, "output_schema": None}
    new = {"config": new_cfg, "input_schema": schema, "output_schema": {"type": "object"}}
    return old, new


def chat_arrays(seed: int = 11) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    old = [{"role": ("user", "assistant")[i % 2], "text": f"Message {i}: " + "words " * (i % 30), "n": i}
           for i in range(2000)]
    new = [dict(m) for m in old]
    for i in rng.sample(range(len(new)), 20):  # edited
        new[i]["text"] += " (edited)"
    for i in sorted(rng.sample(range(len(new)), 20), reverse=True):  # removed
        del new[i]
    for _ in range(20):  # moved
        new.insert(rng.randrange(len(new)), new.pop(rng.randrange(len(new))))
    for k in range(10):  # inserted at the front and in the middle
        new.insert(0, {"role": "system", "text": f"New rule {k}", "n": -k})
        new.insert(len(new) // 2, {"role": "user", "text": f"New question {k}", "n": -100 - k})
    return {"config": {"messages": old}}, {"config": {"messages": new}}


def run(results: Results) -> None:
    with section("diff"):
        from webapp.processes.diff import diff_documents

        old, new = documents()
        results.info("diff_prompt_kb", len(old["config"]["prompt"]) / 1024, "context: prompt size", fmt="{:.0f}")
        diff_documents(old, new)
        compute = median(time_ms(lambda: diff_documents(old, new), RUNS))
        dumps = median(time_ms(lambda: (json.dumps(old), json.dumps(new)), RUNS))
        changes = len(diff_documents(old, new).changes)
        results.info("diff_changes", changes, "context: changes found", fmt="{}")
        results.check("diff_compute_ms", compute, "<", 200, fmt="{:.1f}")
        results.info("json_dumps_ms", dumps, "baseline: json.dumps of both documents", fmt="{:.1f}")
        results.info("diff_vs_json_dumps", compute / dumps if dumps else 0.0, "context: ratio")
        old_chat, new_chat = chat_arrays()
        arrays = median(time_ms(lambda: diff_documents(old_chat, new_chat), RUNS))
        results.info("diff_arrays_changes", len(diff_documents(old_chat, new_chat).changes),
                     "context: changes found (100 made)", fmt="{}")
        results.check("diff_arrays_ms", arrays, "<", 200, fmt="{:.1f}")

        from webapp.processes import documents as process_documents

        app, _, _ = new_app("diff")
        with app.app_context():
            actors = seed_users(roles=("viewer",))
            admin = actors["admin"]
            proc = process_documents.create_process(admin, "Big config")
            v1 = process_documents.create_draft(admin, proc, old["config"], old["input_schema"], old["output_schema"])
            process_documents.activate(admin, v1.id)
            v2 = process_documents.create_draft(admin, proc, new["config"], new["input_schema"], new["output_schema"])
            process_documents.activate(admin, v2.id)
            slug, old_id, new_id = proc.slug, v1.id, v2.id
        client = https_client(app)
        login(client, "viewer@bench.example")
        url = f"/processes/{slug}/compare?old={old_id}&new={new_id}"
        headers = {"HX-Request": "true"}
        first = client.get(url, headers=headers)
        if first.status_code == 404 and b"compare" not in first.data:
            results.skipped("diff_fragment_ms", "skipped: route not built yet")
            return
        assert first.status_code == 200, (first.status_code, first.get_data(as_text=True)[:300])
        body = first.get_data(as_text=True)
        if "<html" in body.lower():
            print("# diff: the HX-Request answer is the full page, not the fragment", flush=True)
        results.info("diff_fragment_kb", len(body) / 1024, "context: fragment size", fmt="{:.0f}")
        rows = len(re.findall(r"<tr class=\"change-", body))
        results.info("diff_fragment_rows", rows, "context: change rows rendered", fmt="{}")
        fragment = median(time_ms(lambda: client.get(url, headers=headers), RUNS))
        results.check("diff_fragment_ms", fragment, "<", 300, fmt="{:.1f}")


if __name__ == "__main__":
    run(Results())
