"""Tracking runs by hand with exp.run(): for loops you write yourself, notebooks, callbacks."""

import runtable as rt

session = rt.connect()
exp = session.create_experiment("manual")

for lr in [0.1, 0.01]:
    with exp.run(lr=lr) as run:  # always a new run, even with params seen before
        loss = 1.0
        for _ in range(3):
            loss *= 1 - lr * 5
            run.log(loss=loss)  # a metric series (see the page on series)
        run.fields.final_loss = loss

try:
    with exp.run(lr=1.0) as run:
        raise FloatingPointError("the loss diverged")
except FloatingPointError as e:  # the exception propagates; the run is kept, failed
    print(f"FloatingPointError: {e}")

with exp.run(lr=0.1) as run:  # a second run with lr=0.1
    run.fields.final_loss = 0.3

print(exp.runs)
print(exp.runs.df(meta=True)[["runtable_status", "lr", "final_loss"]].to_string(index=False))
print(exp.runs.at(2).error.splitlines()[-2:])
exp.persist(if_exists="replace")
print(session.query("SELECT runtable_status, COUNT(*) AS n FROM e_manual GROUP BY 1"))
