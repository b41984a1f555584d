# Seeds the product for the peer benchmark (run through `manage.py shell` in the checkout, by
# product.sh): the benchmarks' customer (bench/stack.py, customer_seed) at the stub, a live
# campaign "bench" prefilled from first name, last name and e-mail, the peers' final-page marker.
import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd() / "bench"))
from stack import customer_seed  # noqa: E402 (the bench folder is not a package)

customer_seed(
    "bench",
    idp_base=os.environ["BENCH_IDP_URL"],
    client_id=os.environ["BENCH_CLIENT_ID"],
    client_secret=os.environ["BENCH_CLIENT_SECRET"],
    callback_key=secrets.token_urlsafe(16),
    read_timeout=10,
)
