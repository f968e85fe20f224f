"""Toss coins over a grid of sizes, five trials each, and store every run in SQL.

Run it, then run coins_evaluate.py: the evaluation happens in another process, on what was
stored. Both use the default database, runtable.db in the current directory ($RUNTABLE_URL
overrides it).
"""

import runtable as rt

session = rt.connect()
exp = session.create_experiment("coins", description="fair coin, growing samples")


@exp.step
def toss(run):
    """Draw the tosses of one run from its own seeded generator."""
    run.fields.tosses = run.rng.random(run.params.n) < run.config.p


exp.add_runs(n=[10, 100, 1_000, 10_000], trial=range(5))
exp.execute(config={"p": 0.5}, n_jobs=1)
exp.persist(if_exists="replace")

print(f"stored {len(exp.runs)} runs of {exp.name!r} in {session.url}")
print(session.query("SELECT n, COUNT(*) AS runs FROM e_coins GROUP BY n ORDER BY n"))
