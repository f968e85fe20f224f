"""Keep trained models beside their runs, and find the best one with SQL.

A sweep of three runs fits a tiny least-squares model each (ridge penalty ``alpha``), stores the
runs, then puts every model in the model store with its run and config. A SQL join of
``model_config`` with the run table picks the model with the lowest validation error; it is
loaded back (its sha1 is checked first) and used to predict. Uses the default database,
runtable.db in the current directory ($RUNTABLE_URL overrides it).
"""

import numpy as np

import runtable as rt


class LeastSquares:
    """Ridge regression in closed form: the "trained model" of this example."""

    def __init__(self, alpha):
        self.alpha = alpha
        self.coef_ = None

    def fit(self, x, y):
        gram = x.T @ x + self.alpha * np.eye(x.shape[1])
        self.coef_ = np.linalg.solve(gram, x.T @ y)
        return self

    def predict(self, x):
        return x @ self.coef_


rng = np.random.default_rng(0)
true_coef = np.array([1.5, -2.0, 0.5])
x = rng.normal(size=(120, 3))
y = x @ true_coef + rng.normal(scale=0.5, size=len(x))
x_train, y_train, x_val, y_val = x[:80], y[:80], x[80:], y[80:]

session = rt.connect()
for digest in session.models.ls(name="ridge")["digest"]:  # models of an earlier run of this script
    session.models.delete(digest)

exp = session.create_experiment("ridge", description="least squares with a ridge penalty")
models = {}
for alpha in [0.1, 10.0, 300.0]:
    with exp.run(alpha=alpha) as run:
        model = LeastSquares(alpha).fit(x_train, y_train)
        run.fields.val_mse = float(np.mean((model.predict(x_val) - y_val) ** 2))
    models[run.id] = model
exp.persist(if_exists="replace")

for run in exp.runs:
    config = {"alpha": run.params.alpha, "features": x.shape[1], "solver": "closed_form"}
    session.models.put(models[run.id], name="ridge", run=run, experiment=exp.name, config=config)
print(f"stored {len(exp.runs)} models of {exp.name!r} in {session.url}")
print(session.models.ls(name="ridge")[["digest", "id_run", "config"]].to_string(index=False))

best = session.query(
    "SELECT m.digest, r.alpha, r.val_mse FROM model_config m "
    "JOIN e_ridge r ON r.id_run = m.id_run "
    "WHERE m.experiment = 'ridge' AND m.name = 'ridge' ORDER BY r.val_mse LIMIT 1"
).iloc[0]
print(f"best: alpha={best['alpha']} val_mse={best['val_mse']:.4f} digest={best['digest']}")

model = session.models.get(best["digest"], unpickle=True)  # our own database: trusted
point = np.array([[1.0, 1.0, 1.0]])
print(f"coefficients {np.round(model.coef_, 3)} (true {true_coef})")
print(f"prediction at (1, 1, 1): {model.predict(point)[0]:.3f} (true {(point @ true_coef)[0]:.3f})")
