"""Run ethereum-etl's ``export_token_transfers`` command and time it (runs in the etl venv).

Calls the click command's own function (``ethereumetl export_token_transfers`` minus argument
parsing), so the code path is exactly the CLI's; the time of the job alone (imports excluded) is
printed as one JSON line on stdout. Python 3.10: ethereum-etl 2.4.2 does not run on 3.11.

    bench/.cache/etl-venv/bin/python bench/etl_driver.py -s 0 -e END -p URL -o out.csv -t TOKEN
"""

import argparse
import json
import sys
import time

started = time.perf_counter()
from ethereumetl.cli.export_token_transfers import export_token_transfers  # noqa: E402

imported = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-s", "--start-block", type=int, default=0)
    parser.add_argument("-e", "--end-block", type=int, required=True)
    parser.add_argument("-b", "--batch-size", type=int, default=100)  # the CLI's default
    parser.add_argument("-w", "--max-workers", type=int, default=5)  # the CLI's default
    parser.add_argument("-p", "--provider-uri", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("-t", "--tokens", action="append", default=None)
    args = parser.parse_args()
    job_started = time.perf_counter()
    export_token_transfers.callback(
        start_block=args.start_block,
        end_block=args.end_block,
        batch_size=args.batch_size,
        output=args.output,
        max_workers=args.max_workers,
        provider_uri=args.provider_uri,
        tokens=tuple(args.tokens or ()),
    )
    job_seconds = time.perf_counter() - job_started
    print(
        json.dumps(
            {
                "import_seconds": imported - started,
                "job_seconds": job_seconds,
                "python": sys.version.split()[0],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
