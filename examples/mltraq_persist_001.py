"""MLTRAQ's "Database storage" example persist-experiment-001, ported: toss coins once, store
the outcomes, and evaluate the error later on a copy loaded from the database.

Differences that remain on purpose: ``run.config`` instead of ``run.kwargs`` (MLTRAQ passes
``kwargs=``; runtable calls execute-time constants ``config``); no field ``n`` beside the param
``N``, because params are columns too and SQLite treats ``n`` and ``N`` as one column (the
param is in the DataFrame already); and the default database is the file ``runtable.db``
rather than an in-memory one, so that the reload is a real read.
"""

import numpy as np

import runtable as rt


def toss_coins(run: rt.Run):
    def estimate_p_head():
        return np.mean([np.random.uniform() < run.config.P for _ in range(run.params.N)])

    run.fields.errors = [np.abs(estimate_p_head() - run.config.P) for _ in range(run.config.K)]


def metrics(run: rt.Run):
    run.fields.error = np.mean(run.fields.errors)


session = rt.connect()
experiment = session.create_experiment("test")
experiment.add_runs(N=[1, 25, 50, 100])
experiment.execute(toss_coins, config={"P": 0.8, "K": 100})
experiment.persist(if_exists="replace")

experiment = session.load_experiment("test")
experiment.execute(metrics)
print(experiment.runs.df()[["N", "error"]].sort_values(by="N").round(4))
