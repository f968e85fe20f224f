"""What happens when a step's argument is found nowhere, or twice, or a step fails."""

import runtable as rt

session = rt.connect()


def grid(name):
    return session.create_experiment(name).add_runs(x=[1, 2, 3])


@rt.step
def needs_y(x, y):
    return {"z": x + y}


try:
    grid("missing").execute(needs_y)  # y is in no namespace of the run, and has no default
except rt.StepError as e:
    print(f"StepError: {e}")
    print(e.step, e.parameter, e.__notes__)  # the notes say which run, params and step

try:
    grid("twice").execute(needs_y, config={"y": 10, "x": 5})  # x: param 1, config 5
except rt.StepError as e:
    print(f"StepError: {e}")


@rt.step
def returns_a_number(x):
    return x * 2  # a step returns a dict of fields, or None


try:
    grid("number").execute(returns_a_number)
except rt.StepError as e:
    print(f"StepError: {e}")


@rt.step
def invert(x):
    return {"inverse": 1 / (x - 2)}


exp = grid("division")
try:
    exp.execute(invert)  # the step's own exception, with notes added
except ZeroDivisionError as e:
    print(f"ZeroDivisionError: {e}")
    print(e.__notes__)
print({run.params.x: run.status for run in exp.runs})  # x=2 never started
print(exp.runs.at(1).error.splitlines()[-2:])  # the traceback is kept on the run
