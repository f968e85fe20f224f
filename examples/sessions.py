"""Sessions: where experiments are stored, and SQL on that database."""

import os

import runtable as rt

# The default: $RUNTABLE_URL if it is set, else the SQLite file runtable.db in the current
# directory (created on the first write).
session = rt.connect()
print(session)

# Any SQLAlchemy URL. Nothing is contacted before the first read or write, and the URL is
# shown with its password hidden.
remote = rt.connect("postgresql://alice:s3cret@db.example.org:5432/sweeps")
print(remote)

# An in-memory database lasts as long as its session: handy in tests. A session is a context
# manager that closes its connections at the end of the block.
with rt.connect("sqlite://") as scratch:
    scratch.create_experiment("scratch").add_runs(x=[1, 2, 3]).persist()
    print(scratch.ls()[["name", "n_runs"]].to_string(index=False))

# $RUNTABLE_URL chooses the database of every connect() (and of the runtable command) that is
# given no URL: one variable moves a whole project to another database.
os.environ["RUNTABLE_URL"] = "sqlite:///other.db"
print(rt.connect())
del os.environ["RUNTABLE_URL"]

# Keyword arguments of connect() go to sqlalchemy.create_engine.
session = rt.connect("sqlite:///runtable.db", echo=False)

# rt.create_experiment(name, url=None, **fields) is connect(url).create_experiment(...).
exp = rt.create_experiment("squares", description="x squared")
exp.add_runs(x=range(6))


@exp.step
def square(x):
    return {"y": x * x}


exp.execute().persist(if_exists="replace")

# SQL with named placeholders; the result is a pandas DataFrame.
df = session.query("SELECT x, y FROM e_squares WHERE y > :low ORDER BY x", {"low": 5})
print(df.to_string(index=False))
print(session.ls()[["name", "table_name", "n_runs", "n_fields"]].to_string(index=False))

session.delete_experiment("squares")
session.delete_experiment("squares", missing_ok=True)  # no error when it is already gone
try:
    session.load_experiment("squares")
except rt.ExperimentNotFoundError as e:
    print(f"{type(e).__name__}: {e}")
