import argparse
import sys

from eda_console.launch.stack import stack_run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m eda_console.launch", description="Run the whole console stack.")
    parser.add_argument("--no-simulator", action="store_true", help="no demo traffic (as SIMULATOR_ENABLED=false does)")
    arguments = parser.parse_args()
    sys.exit(stack_run(simulator=False if arguments.no_simulator else None))
