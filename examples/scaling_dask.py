"""A sweep on a Dask cluster, through joblib's dask backend, stored as runs finish.

LocalCluster starts worker processes on this machine; for a real cluster, connect the Client to
its scheduler instead (Client("tcp://scheduler:8786")): the rest does not change.
"""

import joblib
from dask.distributed import Client, LocalCluster

import runtable as rt


@rt.step
def simulate(run):
    """A random walk of `length` steps; its final position and the largest distance."""
    walk = run.rng.standard_normal(run.params.length).cumsum()
    run.fields.final = float(walk[-1])
    run.fields.max_abs = float(abs(walk).max())


if __name__ == "__main__":  # worker processes import this file: start the cluster only here
    exp = rt.connect().create_experiment("walks")
    exp.add_runs(length=[100, 1_000, 10_000], trial=range(20))

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    with cluster, Client(cluster), joblib.parallel_config(backend="dask"):
        # Each run is a task on the cluster; finished runs are written to the database in
        # batches (every second or 500 runs) while the others still run.
        exp.execute(simulate, persist=True, if_exists="replace")

    print(exp.runs)
    sql = """
        SELECT length, COUNT(*) AS runs, AVG(max_abs) AS mean_max_abs
        FROM e_walks GROUP BY length ORDER BY length
    """
    print(rt.connect().query(sql).round(1).to_string(index=False))
