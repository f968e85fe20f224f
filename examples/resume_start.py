"""Resume, part 1: a long execution that stores runs as they finish, interrupted half-way."""

import resume_steps  # a module beside this script

import runtable as rt

session = rt.connect()
exp = session.create_experiment("long_sweep").add_runs(x=range(10))

resume_steps.interrupt_at = 6  # as if Ctrl-C was pressed during run 6
try:
    # persist=True stores the whole grid first (every run pending), then the finished runs in
    # batches; when the execution stops, the runs finished before are written.
    exp.execute(resume_steps.slow_square, persist=True, if_exists="replace")
except KeyboardInterrupt:
    print("interrupted after", resume_steps.executed)

sql = """SELECT runtable_status AS status, COUNT(*) AS runs
         FROM e_long_sweep GROUP BY runtable_status ORDER BY runtable_status"""
print(session.query(sql).to_string(index=False))
