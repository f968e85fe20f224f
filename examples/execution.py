"""Executing steps: in this process, on joblib's process pool (loky), or on threads."""

import joblib

import runtable as rt


@rt.step
def simulate(run):
    """A stand-in for real work: a sum of squares of the run's random numbers."""
    x = run.rng.standard_normal(200_000)
    run.fields.energy = float((x**2).sum())
    run.vars.sample = x[:3]  # vars travel back from the workers too


def fresh():
    return rt.connect("sqlite://").create_experiment("par").add_runs(size=[1, 2], trial=range(4))


# n_jobs=None (the default) and no enclosing joblib config: one job, in this process.
sequential = fresh().execute(simulate)

# Two worker processes (joblib's default backend, loky). The steps travel to the workers with
# cloudpickle, so they may be defined in the script; results travel back.
processes = fresh().execute(simulate, n_jobs=2)
print(f"loky: {len(processes.runs)} runs")

# backend= picks any joblib backend; threads share memory and start instantly.
threads = fresh().execute(simulate, n_jobs=2, backend="threading")

# --8<-- [start:inherit]
# None inherits an enclosing joblib.parallel_config: the call itself does not change.
with joblib.parallel_config(backend="threading", n_jobs=2):
    inherited = fresh().execute(simulate)
# --8<-- [end:inherit]

for exp in (processes, threads, inherited):
    same = all(
        a.fields.energy == b.fields.energy and (a.vars.sample == b.vars.sample).all()
        for a, b in zip(sequential.runs, exp.runs, strict=True)
    )
    print(same)  # the same numbers everywhere: run.rng is seeded from the run's params

# progress=True forces a bar (tqdm, on stderr), False never shows one; None (the default)
# shows one only for 20 runs or more that last over two seconds in a terminal.
fresh().execute(simulate, progress=False)
