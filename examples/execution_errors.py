"""on_error: stop at the first failing run ("raise", the default) or record it and go on."""

import runtable as rt


@rt.step
def fragile(x):
    if x % 4 == 3:
        raise ValueError(f"x={x} is not supported")
    return {"half": x / 2}


session = rt.connect()
exp = session.create_experiment("fragile").add_runs(x=range(8))

try:
    exp.execute(fragile)  # on_error="raise"
except ValueError as e:  # the step's own exception type, with notes naming the run
    print(f"ValueError: {e} | {e.__notes__[0]}")
print(exp.runs)  # runs finished before the failure keep their results

exp.execute(fragile, on_error="record", resume=True)  # resume: only the runs not done yet
print(exp.runs)
failed = [run for run in exp.runs if run.status == "failed"]
print([run.params.x for run in failed], failed[0].error.splitlines()[-2])

print(exp.last_execution)

# Failed runs are stored like the others, with their traceback in runtable_error.
exp.persist(if_exists="replace")
sql = """SELECT x, runtable_status AS status, half, runtable_error IS NOT NULL AS has_error
         FROM e_fragile ORDER BY x"""
print(session.query(sql).to_string(index=False))
