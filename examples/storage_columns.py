"""How values become columns: native SQL types, JSON, the codec, and exact values."""

from datetime import datetime

import numpy as np

import runtable as rt

session = rt.connect()
exp = session.create_experiment("columns")


@exp.step
def measure(run):
    i = run.params.i
    run.fields.converged = i != 1  # bool -> BOOLEAN
    run.fields.iterations = 10 * (i + 1)  # int -> BIGINT
    run.fields.loss = [0.25, 1, float("nan")][i]  # floats with an int and a NaN -> DOUBLE
    run.fields.solver = ["lbfgs", "adam", "sgd"][i]  # str -> TEXT
    run.fields.finished = datetime(2025, 1, 1 + i, 12, 30)  # naive datetime -> DATETIME
    run.fields.metrics = {"precision": 0.9 - i / 10, "recall": 0.5}  # dict -> JSON
    run.fields.weights = np.linspace(0, 1, 3) * i  # anything else -> the codec, in a BLOB
    if i == 2:
        run.fields.note = "only the last run sets this"


exp.add_runs(i=range(3)).execute().persist(if_exists="replace")

# The run table: runtable's columns, one per param (i) and per field, and runtable_exact.
columns = session.query("SELECT name, type FROM pragma_table_info('e_columns')")  # SQLite
print(columns.to_string(index=False))

# SQL sees native values; the int 1 and the NaN also went, exactly, to runtable_exact.
sql = """
    SELECT i, converged, loss, runtable_exact IS NOT NULL AS has_exact,
           json_extract(metrics, '$.precision') AS precision, note
    FROM e_columns ORDER BY i
"""
print(session.query(sql).to_string(index=False))

# Loading prefers the exact value: every value comes back as it was.
for run in session.load_experiment("columns").runs:
    print(run.params.i, repr(run.fields.loss), run.fields.weights, "note" in run.fields)
