"""Two of MLTRAQ's blog examples, ported: an experiment without runs executes one run with no
params (the Fibonacci sequence), and the runs of two experiments merged into a third."""

import runtable as rt

session = rt.connect("sqlite://")  # in memory: nothing here is stored


def init(run):
    run.fields.F = [0, 1]


def step(run):
    run.fields.F.append(run.fields.F[-1] + run.fields.F[-2])


print(session.create_experiment("fib").execute(init).execute([step] * 8).runs.first().fields.F)

e1 = session.create_experiment("e1").execute(lambda run: run.fields.update(a=1, c=10))
e2 = session.create_experiment("e2").execute(lambda run: run.fields.update(b=2, c=20))
e12 = session.create_experiment("e12").merge_runs(e1, e2)
print(e12.runs)
print(e12.runs.df().drop(columns="id_run"))
