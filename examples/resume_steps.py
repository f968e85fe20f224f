"""The step of resume_start.py and resume_finish.py, in a module that both import.

``execute(resume=True)`` skips a run whose own record of the step shows the same source code,
config and seed: keeping steps in a module gives every process the same code.
"""

import runtable as rt

executed = []  # the x of each run this process executed
interrupt_at = None  # resume_start.py sets it to simulate a Ctrl-C


@rt.step
def slow_square(x):
    if x == interrupt_at:
        raise KeyboardInterrupt
    executed.append(x)
    return {"square": x * x}
