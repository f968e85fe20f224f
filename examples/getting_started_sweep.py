"""Getting started, part 1: a first sweep, stored in runtable.db in the current directory.

Estimates pi by throwing random points into the unit square, for three sample sizes and three
trials each, then stores every run as a row of the SQL table ``e_pi``.
"""

import runtable as rt

session = rt.connect()  # $RUNTABLE_URL, else sqlite:///runtable.db in the current directory
exp = session.create_experiment("pi", description="Monte Carlo estimates of pi")


@exp.step
def sample(run):
    """Throw n points; count those inside the quarter circle of radius 1."""
    points = run.rng.random((run.params.n, 2))  # run.rng: seeded from the run's params
    run.fields.inside = int(((points**2).sum(axis=1) <= 1).sum())


@exp.step
def estimate(inside, n):
    """Arguments are looked up by name in the run's params, config, fields and vars."""
    return {"pi_hat": 4 * inside / n}  # a returned dict is merged into run.fields


exp.add_runs(n=[100, 1_000, 10_000], trial=range(3))  # 3 x 3 = 9 runs
exp.execute()  # the registered steps, in order, on every run
print(exp.runs.df().to_string(index=False))

exp.persist(if_exists="replace")  # "replace": running the script twice is fine
print(f"stored {len(exp.runs)} runs of {exp.name!r}")
