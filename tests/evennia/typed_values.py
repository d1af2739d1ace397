"""Values with their type at every level, as JSON — how the Evennia side (load_batchfiles.py) dumps what Evennia
stored and how tests/worlds/test_real_evennia.py writes what the export holds, so the two compare exactly. No imports:
it runs in Evennia's virtualenv and in the app's."""


def typed(value):
    """A value with its type at every level, as JSON: {"int": "5"}, {"dict": [[key, typed], ...]} …"""
    if value is None:
        return {"none": None}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, list):
        return {"list": [typed(v) for v in value]}
    if isinstance(value, tuple):
        return {"tuple": [typed(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[k if isinstance(k, str) else repr(k), typed(v)] for k, v in value.items()]}
    return {type(value).__name__: repr(value)}
