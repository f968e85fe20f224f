"""Random numbers that depend on what a run is, never on where or when it runs."""

import random

import numpy as np

import runtable as rt


@rt.step
def draw(run):
    run.fields.rng = run.rng.integers(1000, size=3).tolist()  # the run's own Generator
    run.fields.py = random.randrange(1000)  # the global states are seeded per run too
    run.fields.np = int(np.random.randint(1000))


def sweep(seed=0, order=(1, 2, 3)):
    exp = rt.connect("sqlite://").create_experiment("seeds")
    exp.seed = seed
    exp.add_runs(a=list(order), b=["x", "y"])
    return exp


def numbers(exp):
    return {tuple(r.params.values()): r.fields.rng for r in exp.runs}


first = sweep().execute(draw)
print(first.df().head(4).to_string(index=False))

# The same params give the same numbers: in another order, on two processes, and again.
shuffled = sweep(order=(3, 1, 2)).execute(draw, n_jobs=2)
print(numbers(shuffled) == numbers(first))
print(numbers(sweep().execute(draw)) == numbers(first))

# Another experiment seed gives other numbers.
print(numbers(sweep(seed=1).execute(draw)) == numbers(first))

# Each execution starts a run's stream afresh, so executing again repeats the numbers.
again = first.execute(draw)
print(numbers(again) == numbers(sweep().execute(draw)))

# A loaded experiment keeps its seed: its runs draw the same numbers as before.
session = rt.connect()
stored = session.create_experiment("seeds")
stored.seed = 42
stored.add_runs(a=[1, 2]).execute(draw).persist(if_exists="replace")
loaded = session.load_experiment("seeds")
print(loaded.seed, numbers(loaded.execute(draw)) == numbers(stored))
print(loaded.runs.first().seed_sequence.entropy == stored.runs.first().seed_sequence.entropy)
