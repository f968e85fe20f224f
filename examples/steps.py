"""Steps: plain functions whose arguments are injected by name."""

import runtable as rt

exp = rt.connect().create_experiment("projectile")


@exp.step  # registered on exp: execute() without steps runs the registered ones, in order
def flight(speed, angle_deg, g):  # found in the params (speed, angle_deg) and config (g)
    import math

    angle = math.radians(angle_deg)
    return {"range_m": speed**2 * math.sin(2 * angle) / g}  # merged into run.fields


@exp.step(name="classify")  # a name of its own (default: the function's name)
def label(range_m, limit=100.0):  # a default is used when no namespace has the name
    return {"far": range_m > limit}


@rt.step  # not registered anywhere: reusable by any experiment, passed to execute()
def report(run):  # the parameter named `run` receives the Run itself
    run.fields.summary = f"{run.params.speed} m/s at {run.params.angle_deg} deg"


exp.add_runs(speed=[20.0, 40.0], angle_deg=[30, 45])
exp.execute(config={"g": 9.81})  # flight, then classify
exp.execute(report)  # one step, or a list: exp.execute([flight, report])
print([s.name for s in exp.steps])
print(exp.df().round(2).to_string(index=False))

# A step is still the function: call it directly, in tests for example.
print(round(flight(speed=10.0, angle_deg=45, g=10.0)["range_m"], 6))
print(label(range_m=150.0))

# Plain functions and lambdas work as steps too.
exp.execute(lambda range_m: {"range_km": range_m / 1000})
print(exp.runs.first().fields.range_km)
