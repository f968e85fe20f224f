"""Resume, part 2: another process loads the stored sweep and finishes what is missing."""

from resume_steps import executed, slow_square

import runtable as rt

session = rt.connect()
exp = session.load_experiment("long_sweep")
print(exp.runs)

exp.execute(slow_square, persist=True)  # runs done with the same steps are skipped
print("executed:", executed)
print(session.load_experiment("long_sweep").runs)

executed.clear()
exp.execute(slow_square, persist=True)  # nothing is left to do
print("executed:", executed)

exp.execute(slow_square, persist=True, force=True)  # force=True: every run again
print("executed:", executed)

# A new config (or seed, or step source) is a new execution: every run again.
executed.clear()
exp.execute(slow_square, config={"note": "v2"})
print("executed:", executed)
