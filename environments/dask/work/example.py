"""Run in the notebook (or `python /data/work/example.py` in it): sum a big array on the workers."""

import dask.array as da
from dask.distributed import Client

client = Client()  # DASK_SCHEDULER_ADDRESS points at the cluster's scheduler
print(client)
x = da.random.random((20_000, 20_000), chunks=(2_000, 2_000))
print("mean:", x.mean().compute())
