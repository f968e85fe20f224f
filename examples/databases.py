"""Database URLs: SQLite (the default), PostgreSQL and CrateDB.

Nothing is contacted when a session is made: each line below only parses its URL. The first
read or write connects, and a database that cannot be reached is a StorageError.
"""

import runtable as rt

urls = [
    "sqlite:///runtable.db",  # a file, relative to the current directory
    "sqlite:////var/lib/sweeps/results.db",  # an absolute path: four slashes
    "sqlite://",  # in memory, for tests
    "postgresql://alice:s3cret@db.example.org:5432/sweeps",  # pip install "runtable[postgresql]"
    "postgresql+psycopg://alice@/sweeps?host=/run/postgresql",  # a Unix socket
    "crate://localhost:4200",  # pip install "runtable[cratedb]"
    "crate://alice:s3cret@cratedb.example.org:4200?ssl=true",
]
for url in urls:
    print(rt.connect(url))

# Keyword arguments go to sqlalchemy.create_engine, e.g. pool settings for a server.
session = rt.connect("postgresql://alice@127.0.0.1:1/sweeps", pool_pre_ping=True)
try:
    session.ls()  # port 1: nobody listens there
except rt.StorageError as e:
    print("StorageError:", str(e).split(" in ")[0])
    print(type(e.__cause__).__name__)  # the driver's error is the cause
