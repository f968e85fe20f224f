"""Evaluate the stored coin tosses of coins_generate.py, in a fresh process.

The tosses come back from the database exactly as they were (numpy bool arrays); the new
``err`` field is stored beside them and the result is read back with plain SQL.
"""

import runtable as rt

session = rt.connect()
exp = session.load_experiment("coins")


@rt.step
def estimate(tosses, p):
    """Absolute error of the estimated probability; p comes from the stored config."""
    return {"p_hat": float(tosses.mean()), "err": abs(float(tosses.mean()) - p)}


exp.execute(estimate)
exp.fields.evaluated_with = "estimate"
exp.persist(if_exists="replace")

print(session.query("SELECT n, AVG(err) AS mean_err FROM e_coins GROUP BY n ORDER BY n"))
