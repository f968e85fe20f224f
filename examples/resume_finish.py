"""Resume, part 2: another process loads the stored sweep and finishes what is missing."""

from resume_steps import executed, slow_square

import runtable as rt

session = rt.connect()
exp = session.load_experiment("long_sweep")
print(exp.runs)

exp.execute(slow_square, persist=True, resume=True)  # skips the runs done with this step
print("executed:", executed)
print(exp.last_execution)
print(session.load_experiment("long_sweep").runs)

executed.clear()
exp.execute(slow_square, persist=True, resume=True)  # nothing is left to do
print("executed:", executed)

exp.execute(slow_square, persist=True)  # without resume=True: every run, as given
print("executed:", executed)

# A new config (or seed, or step source) does not match the runs' records: every run again.
executed.clear()
exp.execute(slow_square, config={"note": "v2"}, resume=True)
print("executed:", executed)
