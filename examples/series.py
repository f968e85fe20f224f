"""Metric series: run.log() appends rows; the series is stored as one DataFrame field."""

import matplotlib

import runtable as rt

matplotlib.use("Agg")  # draw to files, without a display

session = rt.connect()
exp = session.create_experiment("training")


@exp.step
def train(run, lr, batch):
    loss = 1.0
    for epoch in range(6):
        noise = run.rng.normal(scale=0.2)
        loss *= 1 - lr * (32 / batch) ** 0.5 * (1 + noise)
        run.log(loss=loss)  # step 0, 1, 2, ... unless given: run.log(step=10, loss=...)
        if epoch % 2 == 1:
            run.log(step=epoch, val_loss=loss * 1.1)  # rows may log different metrics
    run.fields.final_loss = loss


exp.add_runs(lr=[0.05, 0.1, 0.2, 0.3], batch=[32, 128], trial=range(3)).execute()
run = exp.runs.first()
print(run.series.columns.tolist())  # step, a UTC timestamp, one float column per metric
print(run.series.drop(columns="timestamp").round(4).to_string(index=False))

exp.persist(if_exists="replace")  # the series is the field `series`, like any DataFrame
loaded = session.load_experiment("training")
print(loaded.runs.first().series.equals(run.series))

# One curve per run, coloured by a param (pip install "runtable[plot]").
ax = loaded.plot_series("loss", hue="lr")
ax.figure.savefig("loss.png")

# The sweep: the mean of a field per param value, +-1 standard deviation over the runs.
ax = loaded.plot(x="lr", y="final_loss", hue="batch")
ax.figure.savefig("final_loss.png")

# Logging on a loaded run continues its stored series.
more = loaded.runs.first()
more.log(loss=0.1)
print(more.series["step"].tolist())
