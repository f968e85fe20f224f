"""The model store: put bytes, files or objects; find them with ls() or SQL; get them back."""

from pathlib import Path

import runtable as rt

session = rt.connect()
models = session.models  # the model store of this database
for digest in models.ls()["digest"]:  # start from an empty store when run again
    models.delete(digest, missing_ok=True)  # one digest may have several rows

# Bytes (or a bytearray, or a file opened in binary mode) are stored as they are.
digest_a = models.put(b"weights v1", name="tiny", config={"layers": 1, "act": "relu"})

# So is a file given as a path (a str would be ambiguous: pass a pathlib.Path).
Path("tiny.onnx").write_bytes(b"weights v2")
digest_b = models.put(Path("tiny.onnx"), name="tiny", config={"layers": 2, "act": "relu"})

# Anything else is pickled with cloudpickle.
table = {"a": 1.0, "b": 2.0}
digest_c = models.put(table, name="lookup", experiment="fits", run=0, config={"keys": 2})

# The key is the sha1 of the stored bytes: the same bytes are stored once.
print(digest_a, models.put(b"weights v1", name="tiny-again") == digest_a)
print(models.ls()[["name", "experiment", "id_run", "config"]].to_string(index=False))
print(models.ls(name="tiny")["config"].tolist())

# model_config is a plain table: query its JSON config with the database's JSON functions.
sql = """
    SELECT name, json_extract(config, '$.layers') AS layers, kind, size
    FROM model_config WHERE json_extract(config, '$.act') = 'relu' ORDER BY layers
"""
print(session.query(sql).to_string(index=False))

# get() checks the bytes against their digest and returns them; it unpickles only when asked.
print(models.get(digest_b), models.get(digest_c)[:2])  # bytes, and the pickle's bytes
print(models.get(digest_c, unpickle=True))  # runs the pickle's code: trusted databases only

models.delete(digest_b)
try:
    models.get(digest_b)
except LookupError as e:  # rt.ModelNotFoundError
    print(f"{type(e).__name__}: {e}")
