"""Experiments: a name, fields of their own, a grid of runs, steps, a seed and a config."""

import runtable as rt

session = rt.connect()

# Keyword arguments become the experiment's own fields (stored with it, any storable value).
exp = session.create_experiment("decay", owner="alice", tags=["tutorial", "physics"])
exp.fields.notes = "exponential decay, explicit Euler"  # fields can be added at any time
exp.seed = 7  # the base of every run's random numbers (default 0)


@exp.step
def simulate(run):
    """Explicit Euler for dy/dt = -k y, y(0) = 1, up to t = 1."""
    y = 1.0
    for _ in range(run.params.steps):
        y -= run.config.k * y / run.params.steps
    run.fields.y1 = y


# add_runs, add_run, execute and persist return the experiment, so calls chain.
exp.add_runs(steps=[1, 10, 100]).execute(config={"k": 2.0}).persist(if_exists="replace")
print(exp)
print(exp.config)
print(exp.df().to_string(index=False))

# Persisting under a stored name is refused unless you say what to do.
try:
    session.create_experiment("decay").persist()
except rt.ExperimentExistsError as e:
    print(f"{type(e).__name__}: {e}")

# "append" stores the runs that are not stored yet, and the experiment's fields.
more = session.load_experiment("decay")
more.add_runs(steps=[1000])
more.execute(simulate)  # steps are code, not stored: pass them again; done runs are skipped
more.persist(if_exists="append")  # ("replace" would swap the whole stored version)

listing = session.ls()[["name", "n_runs", "n_fields", "seed"]]
print(listing.to_string(index=False))
loaded = session.load_experiment("decay")
print(dict(loaded.fields))
print([round(run.fields.y1, 6) for run in loaded.runs])
