"""store_pickle: keep the whole experiment, vars and steps included, as a cloudpickle."""

import runtable as rt


class Model:  # an object the safe codec does not store
    def __init__(self, degree):
        self.degree = degree

    def predict(self, x):
        return x**self.degree


session = rt.connect()
exp = session.create_experiment("fits")


@exp.step
def fit(run):
    run.vars.model = Model(run.params.degree)  # vars: not in the run table
    run.fields.at_two = run.vars.model.predict(2)


exp.add_runs(degree=[1, 2, 3]).execute()
exp.persist(if_exists="replace", store_pickle=True)

# The default load reads the tables: fields yes, vars and steps no. Nothing is unpickled.
plain = session.load_experiment("fits")
print(plain.runs.first().fields, dict(plain.runs.first().vars), plain.steps)

# unpickle=True unpickles the stored experiment: only for databases you trust, since
# unpickling runs code chosen by whoever wrote the pickle.
trusted = session.load_experiment("fits", unpickle=True)
print(trusted.runs.first().vars.model.predict(10), [s.name for s in trusted.steps])
trusted.add_runs(degree=[4]).execute().persist(if_exists="replace", store_pickle=True)
print(trusted.df().to_string(index=False))

# Without a stored pickle, unpickle=True is an error, not a silent fallback.
exp.persist(if_exists="replace")  # store_pickle=False: the pickle is dropped
try:
    session.load_experiment("fits", unpickle=True)
except rt.RuntableError as e:
    print(f"RuntableError: {e}")
