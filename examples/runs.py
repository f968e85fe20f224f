"""Runs: params (the grid point), config (constants), fields (stored), vars (in memory only)."""

import numpy as np

import runtable as rt

exp = rt.connect().create_experiment("walks")


@exp.step
def walk(run):
    steps = run.rng.choice([-1, 1], size=run.params.length)  # params: read-only grid values
    run.vars.path = np.cumsum(steps)  # vars: kept in memory, never stored
    run.fields.final = int(run.vars.path[-1])  # fields: become columns of e_walks
    run.fields.max_distance = int(np.abs(run.vars.path).max())
    run.fields.escaped = run.fields.max_distance >= run.config.wall  # config: from execute()


exp.add_runs(length=[10, 100], start=["left", "right"])
exp.execute(config={"wall": 8})

run = exp.runs.first()
print(run)
print(run.params, run.config, sep="\n")
print(run.fields)
print(sorted(run.vars), run.status, run.error)
print(run.ended_at >= run.started_at)  # naive UTC datetimes

# Params and config are read-only during a run.
try:
    run.params.length = 5
except TypeError as e:
    print(f"TypeError: {e}")

# Attribute and item access are the same; unknown names say what exists.
print(run.fields["final"] == run.fields.final)
try:
    print(run.fields.finale)
except AttributeError as e:
    print(f"AttributeError: {e}")

# The collection: iterate, look up by id or position, count, or get a DataFrame.
print(exp.runs, len(exp.runs))
fourth = exp.runs.at(3)
print(fourth.params.to_dict(), exp.runs[fourth.id] == fourth)  # views of the same run
meta = exp.runs.df(meta=True).drop(columns=["id_run", "runtable_started_at", "runtable_ended_at"])
print(meta.to_string(index=False))

exp.persist(if_exists="replace")
stored = rt.connect().load_experiment("walks")
print(sorted(stored.runs.first().vars))  # vars were not stored
