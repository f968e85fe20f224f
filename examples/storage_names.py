"""Names: experiments become tables e_<name>, params and fields become columns."""

import runtable as rt

session = rt.connect("sqlite://")

for name in ["coins", "coins_v2", "Coins", "2coins", "my-coins", "a__b", "x" * 49]:
    try:
        exp = session.create_experiment(name)
        print(f"{name!r:14} ok: table e_{exp.name}")
    except rt.InvalidNameError as e:
        print(f"{name[:12]!r:14} {e.reason}")

exp = session.create_experiment("names")
for params in [{"lr": 0.1, "Lr": 0.2}, {"status": 1}, {"run": 1}, {"n__exact": 1}, {"_n": 1}]:
    try:
        exp.add_run(**params)
    except rt.InvalidNameError as e:
        print(f"{e.kind} {e.name!r}: {e.reason}")

with exp.run(LR=0.1) as run:
    try:
        run.fields.LR = 1.0  # a field may not take a param's name
    except rt.InvalidNameError as e:
        print(f"{e.kind} {e.name!r}: {e.reason}")
    try:
        run.fields.lr = 1.0  # nor differ from another name only in case
    except rt.InvalidNameError as e:
        print(f"{e.kind} {e.name!r}: {e.reason}")
    run.fields.learning_rate = 0.1
print(exp.runs.first())
