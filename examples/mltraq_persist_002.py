"""MLTRAQ's "Database storage" example persist-experiment-002, ported: with an opt-in pickle,
a temporary value (MLTRAQ's ``run.locals``, runtable's ``run.vars``) comes back on reload.

Loading with ``unpickle=True`` runs the pickle's code: only for databases you trust.
"""

import runtable as rt

session = rt.connect()
experiment = session.create_experiment("test")

with experiment.run() as run:
    run.vars.temporary = 123

experiment.persist(if_exists="replace", store_pickle=True)
experiment = session.load_experiment(name="test", unpickle=True)

print(experiment.runs.first().vars.temporary)
