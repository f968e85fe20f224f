"""MLTRAQ's tracking how-to, ported: execute a step three times, twice, persist, reload in
the same database, execute it once more: every run has counted 7 executions.

Differences on purpose: MLTRAQ's ``Sequence`` field is ``run.log`` here (a metric series
stored as one field); the step does not copy the param ``X`` into a field of the same name
(params are columns already, and a field may not shadow a param).
"""

import numpy as np

import runtable as rt

session = rt.connect()
experiment = session.create_experiment("example").add_runs(X=[1, 2])


def fibonacci(n):
    return n if n <= 1 else fibonacci(n - 1) + fibonacci(n - 2)


def step(run: rt.Run):
    run.fields.N = run.fields.get("N", 0) + 1
    run.log(n=run.fields.N, fibonacci=fibonacci(run.fields.N))
    run.fields.score = 1
    run.fields.predictions = np.array([1, 2, 3])


experiment.execute([step] * 3)
experiment.execute([step] * 3)
experiment.persist(if_exists="replace")

experiment = session.load_experiment("example")
experiment.execute([step])
print(experiment.last_execution.done, "runs executed, none skipped")

print("Contents of the series in a single run:")
print(experiment.runs.first().series[["n", "fibonacci"]])
print("Contents of X, N and score on all runs:")
print(experiment.runs.df()[["X", "N", "score"]])
