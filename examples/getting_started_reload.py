"""Getting started, part 2: a new process loads the stored sweep, evaluates it and queries it."""

import math

import runtable as rt

session = rt.connect()
exp = session.load_experiment("pi")  # every run, its params and fields, exactly as stored
print(exp)


@rt.step
def error(pi_hat):
    """A new field, computed from a stored one."""
    return {"abs_err": abs(pi_hat - math.pi)}


exp.execute(error)
exp.persist(if_exists="replace")

print(exp.runs.first())
sql = """
    SELECT n, COUNT(*) AS runs, AVG(pi_hat) AS pi_hat, AVG(abs_err) AS mean_abs_err
    FROM e_pi GROUP BY n ORDER BY n
"""
print(session.query(sql).to_string(index=False))
