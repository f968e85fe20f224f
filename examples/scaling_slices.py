"""Loading a slice of a large experiment: only the runs and fields you ask for are read."""

import runtable as rt

session = rt.connect()

# where: a SQL condition on the run table; columns: the fields to read (params always come).
long_walks = session.load_experiment("walks", where="length = 10000", columns=["max_abs"])
print(long_walks.runs)
print(long_walks.runs.first())

# A slice can be executed and looked at; in SQL, aggregates need no loading at all.
long_walks.execute(lambda max_abs, length: {"scaled": max_abs / length**0.5})
print(round(long_walks.df()["scaled"].mean(), 1))

# It cannot be persisted: that would drop what was not loaded.
try:
    long_walks.persist(if_exists="replace")
except rt.RuntableError as e:
    print(f"RuntableError: {e}")
