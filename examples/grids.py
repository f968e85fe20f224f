"""Grids: the cartesian product of param values, extended without duplicates, or runs by hand."""

import runtable as rt

exp = rt.connect().create_experiment("grid")

# One run per combination, in order: the last param varies fastest.
exp.add_runs(model=["linear", "tree"], depth=[1, 2])
print([tuple(run.params.values()) for run in exp.runs])

# A str, bytes, dict or any non-iterable value counts as one value of its param.
exp.add_runs(model="forest", depth=[1, 2], options={"trees": 10})
print(len(exp.runs), exp.runs.at(5).params)

# Extending a grid adds only the combinations that are new: two of these four exist.
exp.add_runs(model=["linear", "tree"], depth=[2, 3])
print(len(exp.runs), [tuple(r.params.values()) for r in exp.runs][-2:])

# add_run adds a single run (or nothing, if an identical run exists).
exp.add_run(model="linear", depth=10).add_run(model="linear", depth=10)
print(len(exp.runs))

# A grid point is its params, so runs may have different param names.
print(exp.df().to_string(index=False))

try:
    exp.add_runs(model=[], depth=[1])
except ValueError as e:
    print(f"ValueError: {e}")
